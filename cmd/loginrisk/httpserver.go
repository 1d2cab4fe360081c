package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

type httpServer struct{}

func (s *httpServer) shutdown() {}

func startHTTP(ctx context.Context, cfg Config, c *core, stream *kafkastream.Stream, h *history.Writer, log *slog.Logger, stderr io.Writer, token string) (*httpServer, error) {
	return nil, nil
}
