"""Settings every test process needs before anything imports grpc."""

import os

# The memory store forks its snapshot writer, as the daemon does (sessiond/__main__.py sets
# the same): with grpc's fork support on, a child forked after grpc started its threads
# aborts (exit -6), so in-process servers of the tests run with it off too.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
