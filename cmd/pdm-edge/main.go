// Command pdm-edge is the gateway agent: it polls Modbus devices and a local
// MQTT broker, applies local rules, keeps readings in a disk queue and
// forwards them to the platform's broker (see the contract, section 2).
//
// Usage: pdm-edge -config /etc/pdm-edge.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openpdm/pdm/edge"
	"golang.org/x/sync/errgroup"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, hup); err != nil {
		fmt.Fprintln(os.Stderr, "pdm-edge:", err)
		os.Exit(1)
	}
}

// settings are the command line settings (flag wins over environment).
type settings struct {
	configPath  string
	metricsAddr string
	queuePath   string
	uplinkURL   string
	logLevel    string
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var s settings
	fs := flag.NewFlagSet("pdm-edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.configPath, "config", env("PDM_EDGE_CONFIG", "/etc/pdm-edge.yaml"), "config file (YAML) [PDM_EDGE_CONFIG]")
	fs.StringVar(&s.metricsAddr, "metrics-addr", env("PDM_EDGE_METRICS_ADDR", ""), "serve /metrics here, overriding metrics_addr of the config (default "+defaultMetricsAddr+"; \"off\": none) [PDM_EDGE_METRICS_ADDR]")
	fs.StringVar(&s.queuePath, "queue", env("PDM_EDGE_QUEUE", ""), "queue file, overriding queue.path of the config [PDM_EDGE_QUEUE]")
	fs.StringVar(&s.uplinkURL, "uplink-url", env("PDM_EDGE_UPLINK_URL", ""), "uplink broker, overriding uplink.url of the config [PDM_EDGE_UPLINK_URL]")
	fs.StringVar(&s.logLevel, "log-level", env("PDM_LOG_LEVEL", "info"), "debug, info, warn or error [PDM_LOG_LEVEL]")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if *showVersion {
		fmt.Fprintln(stderr, version)
		return s, errVersion
	}
	return s, nil
}

var errVersion = errors.New("version printed")

// defaultMetricsAddr is where /metrics is served unless the config or the
// flag says otherwise.
const defaultMetricsAddr = "127.0.0.1:9464"

func loadConfig(s settings) (edge.Config, error) {
	cfg, err := edge.LoadConfigFile(s.configPath)
	if err != nil {
		return cfg, err
	}
	if s.metricsAddr != "" {
		cfg.MetricsAddr = s.metricsAddr
	}
	if s.queuePath != "" {
		cfg.Queue.Path = s.queuePath
	}
	if s.uplinkURL != "" {
		cfg.Uplink.URL = s.uplinkURL
	}
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = defaultMetricsAddr
	}
	if cfg.Queue.Path == "" {
		cfg.Queue.Path = filepath.Join(filepath.Dir(s.configPath), "pdm-edge-queue.db")
	}
	return cfg, cfg.Validate()
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, hup <-chan os.Signal) error {
	s, err := parse(args, getenv, stderr)
	if errors.Is(err, errVersion) {
		return nil
	}
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := loadConfig(s)
	if err != nil {
		return err
	}
	q, err := edge.OpenQueue(cfg.Queue.Path, cfg.Queue.MaxBytes)
	if err != nil {
		return err
	}
	defer q.Close()
	a, err := edge.New(cfg, q, edge.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	st := q.Stats()
	log.Info("pdm-edge starting", "version", version, "gateway", cfg.Gateway, "site", cfg.Site,
		"queue", cfg.Queue.Path, "buffered", st.Items, "dropped", st.Dropped)

	var ln net.Listener
	if cfg.MetricsAddr != "off" {
		if ln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		log.Info("metrics listening", "addr", ln.Addr().String())
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Run(ctx) })
	if ln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.MetricsHandler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				c, err := loadConfig(s)
				if err == nil {
					err = a.Reload(c)
				} else {
					a.RejectConfig(err)
				}
				if err != nil {
					log.Warn("config reload rejected", "err", err)
				}
			}
		}
	})
	return g.Wait()
}
