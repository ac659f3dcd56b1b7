// Package rpcpb is the generated protobuf and gRPC code of the booster RPC
// (booster.proto). Do not edit the .pb.go files; change booster.proto and
// regenerate with
//
//	go generate ./cluster/rpcpb
//
// which needs protoc (apt-get install -y protobuf-compiler), protoc-gen-go
// (go install google.golang.org/protobuf/cmd/protoc-gen-go@latest) and
// protoc-gen-go-grpc (go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest)
// on PATH. The future `make proto` target runs the same command.
package rpcpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative booster.proto
