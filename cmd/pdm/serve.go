package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// serveHooks lets tests learn what serve bound and started.
type serveHooks struct {
	// Ready is called once the API listens, with its address.
	Ready func(apiAddr string)
}

// serve runs the roles of Config.Only (all when empty) until ctx ends, then
// drains in-flight work and returns nil. A dependency that cannot be
// reached at start is an error naming it.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer, hooks *serveHooks) error {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	log.Info("pdm serving", "http", ln.Addr().String(), "only", cfg.Only)
	if hooks != nil && hooks.Ready != nil {
		hooks.Ready(ln.Addr().String())
	}
	err = g.Wait()
	log.Info("pdm stopped")
	return err
}

func migrate(ctx context.Context, cfg Config, stderr io.Writer) error {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	log.Info("migrate: not wired yet")
	return nil
}

func demo(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	return serve(ctx, cfg, stdout, stderr, nil)
}

var _ = slog.Default
