package rpc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// How the two ends prove they hold the cluster key, bound to this TLS
// connection: each sends HMAC-SHA256(key, EKM || side), where EKM is
// 32 bytes of TLS exported keying material (RFC 8446 §7.5) under the label
// "omflow-cluster". A man in the middle has two TLS sessions with two
// different EKMs, so without the key it can neither forge nor relay a
// proof. Certificates are therefore not verified: they are throw-away
// self-signed ones generated at start, there only to run TLS.
const (
	ekmLabel    = "omflow-cluster"
	sideClient  = "client"
	sideServer  = "server"
	clientProof = "omflow-cluster-proof-bin"        // request metadata
	serverProof = "omflow-cluster-server-proof-bin" // response header
)

// MsgKeyMismatch is the message of the codes.Unauthenticated error that
// both ends return and log when the other end does not hold our key.
const MsgKeyMismatch = "cluster key mismatch"

func proof(key []byte, cs tls.ConnectionState, side string) ([]byte, error) {
	ekm, err := cs.ExportKeyingMaterial(ekmLabel, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("export TLS keying material: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(ekm)
	mac.Write([]byte(side))
	return mac.Sum(nil), nil
}

func verify(key []byte, cs tls.ConnectionState, side string, got []byte) bool {
	want, err := proof(key, cs, side)
	return err == nil && hmac.Equal(want, got)
}

// selfSignedCert makes the throw-away certificate the TLS server presents.
func selfSignedCert() (tls.Certificate, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "omflow-cluster"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

func tlsInfo(ai credentials.AuthInfo) (tls.ConnectionState, bool) {
	if ti, ok := ai.(credentials.TLSInfo); ok {
		return ti.State, true
	}
	return tls.ConnectionState{}, false
}

// keyCreds attaches the client's proof to every call.
type keyCreds struct{ key []byte }

func (k keyCreds) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	ri, ok := credentials.RequestInfoFromContext(ctx)
	if !ok {
		return nil, errors.New("cluster rpc: no request info for the key proof")
	}
	cs, ok := tlsInfo(ri.AuthInfo)
	if !ok {
		return nil, errors.New("cluster rpc: not a TLS connection; refusing to send the key proof")
	}
	p, err := proof(k.key, cs, sideClient)
	if err != nil {
		return nil, err
	}
	return map[string]string{clientProof: string(p)}, nil
}

func (keyCreds) RequireTransportSecurity() bool { return true }

// serverAuth checks callers' proofs and sends ours.
type serverAuth struct {
	key    []byte
	logger *slog.Logger
}

func (a serverAuth) check(ctx context.Context, method string) (metadata.MD, error) {
	p, _ := peer.FromContext(ctx)
	remote := "unknown"
	var cs tls.ConnectionState
	ok := false
	if p != nil {
		remote = p.Addr.String()
		cs, ok = tlsInfo(p.AuthInfo)
	}
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "cluster rpc: TLS required")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(clientProof)
	if len(vals) != 1 || !verify(a.key, cs, sideClient, []byte(vals[0])) {
		a.logger.Warn("rpc: refused a call: "+MsgKeyMismatch+" (the caller's CLUSTER_KEY differs from ours, or it sent none)",
			"remote", remote, "method", method)
		return nil, status.Error(codes.Unauthenticated, MsgKeyMismatch+": this node's CLUSTER_KEY differs from the caller's")
	}
	ours, err := proof(a.key, cs, sideServer)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cluster rpc: %v", err)
	}
	return metadata.Pairs(serverProof, string(ours)), nil
}

func (a serverAuth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	hdr, err := a.check(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if err := grpc.SetHeader(ctx, hdr); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a serverAuth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	hdr, err := a.check(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	// Send the header now: the client waits for our proof before it
	// sends its first message.
	if err := ss.SendHeader(hdr); err != nil {
		return err
	}
	return handler(srv, ss)
}

// clientAuth verifies the server's proof and logs refusals clearly.
type clientAuth struct {
	key          []byte
	target       string
	proofTimeout time.Duration
	logger       *slog.Logger
}

func (a clientAuth) checkHeader(hdr metadata.MD, p *peer.Peer) error {
	cs, ok := tlsInfo(p.AuthInfo)
	vals := hdr.Get(serverProof)
	if !ok || len(vals) != 1 || !verify(a.key, cs, sideServer, []byte(vals[0])) {
		a.logger.Error("rpc: the node does not prove it holds our CLUSTER_KEY: "+MsgKeyMismatch, "node", a.target)
		return status.Errorf(codes.Unauthenticated, "%s: the node at %s did not prove it holds our CLUSTER_KEY", MsgKeyMismatch, a.target)
	}
	return nil
}

func (a clientAuth) noteError(err error) error {
	if status.Code(err) == codes.Unauthenticated {
		a.logger.Error("rpc: refused by the node: "+MsgKeyMismatch+" (check that CLUSTER_KEY is the same on both nodes)",
			"node", a.target, "err", err)
	}
	return err
}

func (a clientAuth) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var hdr metadata.MD
	var p peer.Peer
	opts = append(opts, grpc.Header(&hdr), grpc.Peer(&p))
	if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
		return a.noteError(err)
	}
	return a.checkHeader(hdr, &p)
}

func (a clientAuth) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		cancel()
		return nil, a.noteError(err)
	}
	// The server sends its proof in the header at once; do not wait for
	// it longer than proofTimeout, so an impostor cannot stall us.
	type result struct {
		hdr metadata.MD
		err error
	}
	ch := make(chan result, 1)
	go func() {
		hdr, err := cs.Header()
		ch <- result{hdr, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-time.After(a.proofTimeout):
		cancel()
		a.logger.Error("rpc: the node sent no key proof in time: "+MsgKeyMismatch+"?", "node", a.target, "waited", a.proofTimeout)
		return nil, status.Errorf(codes.Unauthenticated, "%s: the node at %s did not prove it holds our CLUSTER_KEY within %v", MsgKeyMismatch, a.target, a.proofTimeout)
	}
	if r.err != nil {
		cancel()
		return nil, a.noteError(r.err)
	}
	if r.hdr == nil {
		// Trailers-only response: the call already ended; its status
		// says why.
		err := cs.RecvMsg(new(struct{}))
		cancel()
		if err == nil {
			err = status.Error(codes.Internal, "cluster rpc: stream ended without status")
		}
		return nil, a.noteError(err)
	}
	p, ok := peer.FromContext(cs.Context())
	if !ok {
		cancel()
		return nil, status.Error(codes.Internal, "cluster rpc: no peer information on the stream")
	}
	if err := a.checkHeader(r.hdr, p); err != nil {
		cancel()
		return nil, err
	}
	return &cancelStream{ClientStream: cs, cancel: cancel}, nil
}

// cancelStream releases the interceptor's context when the stream ends.
type cancelStream struct {
	grpc.ClientStream
	cancel context.CancelFunc
}

func (s *cancelStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.cancel()
	}
	return err
}
