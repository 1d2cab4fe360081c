package kafkastream

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestSummarizeWriteErr(t *testing.T) {
	werrs := make(kafka.WriteErrors, 5000)
	for i := range werrs {
		switch {
		case i%1000 == 7:
			werrs[i] = io.ErrUnexpectedEOF
		case i%2 == 0:
			werrs[i] = kafka.MessageSizeTooLarge
		}
	}
	wantFailed := werrs.Count()
	err := summarizeWriteErr(werrs)
	msg := err.Error()
	if strings.Count(msg, kafka.MessageSizeTooLarge.Error()) != 1 {
		t.Errorf("summary repeats the error: %.300s", msg)
	}
	for _, want := range []string{
		"2505 of 5000 messages failed",
		"2500 × " + kafka.MessageSizeTooLarge.Error(),
		"5 × " + io.ErrUnexpectedEOF.Error(),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("summary %q lacks %q", msg, want)
		}
	}
	if wantFailed != 2505 {
		t.Fatalf("test set-up: %d failed", wantFailed)
	}
	if !errors.Is(err, kafka.MessageSizeTooLarge) {
		t.Error("the summary does not match the first error with errors.Is")
	}
	if len(msg) > 300 {
		t.Errorf("summary is %d bytes", len(msg))
	}

	other := errors.New("dial tcp: connection refused")
	if got := summarizeWriteErr(other); got != other {
		t.Errorf("a plain error was changed to %v", got)
	}
}
