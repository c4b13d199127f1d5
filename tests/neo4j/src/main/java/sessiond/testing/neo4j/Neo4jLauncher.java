package sessiond.testing.neo4j;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * Runs an embedded Neo4j 5.26 Community DBMS with Bolt on 127.0.0.1:PORT and auth enabled.
 *
 * <p>Usage: {@code java -jar target/neo4j-launcher.jar --data DIR --port PORT --password PW
 * [--pagecache 64m]}. Each option may also be given as a system property
 * ({@code -Dneo4j.data=..., -Dneo4j.port=..., -Dneo4j.password=..., -Dneo4j.pagecache=...}).
 *
 * <p>The data directory is used as NEO4J_HOME (databases under data/, logs under logs/),
 * so stopping and starting again on the same directory keeps all data. Prints exactly one
 * line {@code NEO4J READY bolt://127.0.0.1:PORT} on stdout once Bolt accepts connections,
 * and shuts down cleanly on SIGTERM/SIGINT via a shutdown hook.
 */
public final class Neo4jLauncher {
    private Neo4jLauncher() {}

    public static void main(String[] args) {
        try {
            run(parseArgs(args));
        } catch (Throwable t) {
            // Neo4j's non-daemon threads would keep the JVM alive: exit (runs the shutdown hook).
            t.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(Map<String, String> opts) throws Exception {
        Path home = Path.of(opts.get("data")).toAbsolutePath();
        int port = Integer.parseInt(opts.get("port"));
        String password = opts.get("password");
        long pageCacheMb = Long.parseLong(opts.get("pagecache").replaceAll("(?i)m$", ""));
        if (password.length() < 8) {
            throw new IllegalArgumentException("Neo4j 5 requires a password of at least 8 characters");
        }
        Files.createDirectories(home);

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                // Defaults are 5 s each and make SIGTERM take ~12 s; stop/start cycles want fast.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                .setConfig(GraphDatabaseSettings.udc_enabled, false) // no usage reports (no network)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("neo4j-launcher: shutting down");
            try {
                dbms.shutdown();
            } finally {
                stopped.countDown();
                System.err.println("neo4j-launcher: stopped");
            }
        }, "neo4j-shutdown"));

        setPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        waitForPort(port, 60_000);
        System.out.println("NEO4J READY bolt://127.0.0.1:" + port);
        System.out.flush();
        stopped.await(); // the shutdown hook ends the process
    }

    /**
     * Sets the password of the built-in user {@code neo4j} without forcing a change at first
     * login. Runs on every start, so the password can also be changed later; ALTER USER with
     * the current password is rejected by Neo4j, which is fine (it is already set).
     */
    private static void setPassword(GraphDatabaseService system, String password) {
        String quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'";
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD " + quoted + " CHANGE NOT REQUIRED");
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage());
            if (!msg.contains("Old password and new password cannot be the same")) {
                throw e;
            }
            System.err.println("neo4j-launcher: password already set");
        }
    }

    /** Waits until something accepts TCP connections on 127.0.0.1:port. */
    private static void waitForPort(int port, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return;
            } catch (IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("Bolt did not open port " + port, e);
                }
                Thread.sleep(100);
            }
        }
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> opts = new HashMap<>();
        opts.put("data", System.getProperty("neo4j.data", "/tmp/sessiond-neo4j"));
        opts.put("port", System.getProperty("neo4j.port", "7687"));
        opts.put("password", System.getProperty("neo4j.password", "sessiond-test-password"));
        opts.put("pagecache", System.getProperty("neo4j.pagecache", "64m"));
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException(
                        "usage: --data DIR --port PORT --password PW [--pagecache 64m]; bad arg: " + a);
            }
            String key = a.substring(2);
            if (!opts.containsKey(key)) {
                throw new IllegalArgumentException("unknown option: " + a);
            }
            opts.put(key, args[++i]);
        }
        return opts;
    }
}
