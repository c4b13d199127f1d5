// A Go gRPC server that answers every call with canned bytes: the runtime's limit on this
// machine, as a baseline for the benchmarks (tests/bench/run.py builds and starts it).
//
//	goserver -listen 127.0.0.1:PORT -answers DIR
//
// DIR holds one file per method, named after it (GetSession.bin, ...): the serialized
// response the Python bench writes from tests/bench/workload.py, so both baselines send
// the same bytes sessiond does.
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

// raw passes message bytes through untouched: no protobuf work on either side.
type raw struct{}

func (raw) Marshal(v any) ([]byte, error)      { return *v.(*[]byte), nil }
func (raw) Unmarshal(data []byte, v any) error { *v.(*[]byte) = data; return nil }
func (raw) Name() string                       { return "proto" }

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HOST:PORT")
	dir := flag.String("answers", "", "directory of <Method>.bin response files")
	flag.Parse()
	encoding.RegisterCodec(raw{})

	answers := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join(*dir, "*.bin"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no answers in %q", *dir)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			log.Fatal(err)
		}
		answers[strings.TrimSuffix(filepath.Base(file), ".bin")] = data
	}

	server := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		answer, ok := answers[path.Base(method)]
		if !ok {
			return status.Errorf(codes.Unimplemented, "no canned answer for %s", method)
		}
		var request []byte
		if err := stream.RecvMsg(&request); err != nil {
			return err
		}
		return stream.SendMsg(&answer)
	}))
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		server.GracefulStop()
	}()
	log.Printf("listening on %s", lis.Addr())
	if err := server.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
