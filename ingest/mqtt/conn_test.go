package mqtt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestBufferedConnSendsInOrderAndFlushesOnClose(t *testing.T) {
	cl, srv := tcpPair(t)
	c := newBufferedConn(cl)
	var want bytes.Buffer
	for i := range 20000 {
		p := []byte{0x40, 0x02, byte(i >> 8), byte(i)} // a PUBACK
		want.Write(p)
		if n, err := c.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(srv)
		got <- b
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("server got %d bytes, want %d in order", len(b), want.Len())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not see the connection close")
	}
	if _, err := c.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

func TestBufferedConnLoneWriteLeavesAtOnce(t *testing.T) {
	cl, srv := tcpPair(t)
	c := newBufferedConn(cl)
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4)
	if _, err := io.ReadFull(srv, b); err != nil || string(b) != "ping" {
		t.Fatalf("server read %q, %v", b, err)
	}
}

func TestBufferedConnFailedSendFailsLaterWrites(t *testing.T) {
	cl, srv := tcpPair(t)
	c := newBufferedConn(cl)
	defer c.Close()
	srv.(*net.TCPConn).SetLinger(0)
	srv.Close() // the peer resets: sends fail
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Write(make([]byte, 64<<10)); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writes kept succeeding after the peer reset the connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
