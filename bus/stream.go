package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// Subjects are the TAPLINE stream's subjects.
var Subjects = []string{SubjectTraces, SubjectLogs, SubjectEvents, SubjectDLQ}

// StreamSettings returns the TAPLINE stream's configuration for cfg: the four
// subjects, file storage, limits retention (oldest discarded first) and the
// configured limits and duplicate window.
func StreamSettings(cfg StreamConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Tapline telemetry: OTLP traces, logs and access/TLS events",
		Subjects:    slices.Clone(Subjects),
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    int64(cfg.MaxBytes),
		MaxMsgs:     -1,
		Duplicates:  cfg.DuplicateWindow,
		Replicas:    cfg.Replicas,
	}
}

// EnsureResult says what EnsureStream did.
type EnsureResult int

// What EnsureStream did.
const (
	StreamUnchanged EnsureResult = iota
	StreamCreated
	StreamUpdated
)

func (r EnsureResult) String() string {
	switch r {
	case StreamCreated:
		return "created"
	case StreamUpdated:
		return "updated"
	default:
		return "unchanged"
	}
}

// EnsureStream creates the TAPLINE stream, or updates it when its subjects,
// limits or duplicate window differ from cfg.Stream; an up-to-date stream is left
// alone. Settings Tapline does not manage (consumers, metadata) are kept. A
// stream with another storage type is an ErrStreamConflict: JetStream cannot
// change it in place.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, EnsureResult, error) {
	want := StreamSettings(cfg.Stream)
	s, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, StreamUnchanged, fmt.Errorf("bus: create stream %s: %w", StreamName, err)
		}
		return s, StreamCreated, nil
	}
	if err != nil {
		return nil, StreamUnchanged, fmt.Errorf("bus: stream %s: %w", StreamName, err)
	}
	have := s.CachedInfo().Config
	if have.Storage != want.Storage {
		return nil, StreamUnchanged, fmt.Errorf("%w: %s uses %s storage, want %s", ErrStreamConflict, StreamName, have.Storage, want.Storage)
	}
	if sameManaged(have, want) {
		return s, StreamUnchanged, nil
	}
	next := have
	next.Subjects = want.Subjects
	next.Retention = want.Retention
	next.Discard = want.Discard
	next.MaxAge = want.MaxAge
	next.MaxBytes = want.MaxBytes
	next.MaxMsgs = want.MaxMsgs
	next.Duplicates = want.Duplicates
	next.Replicas = want.Replicas
	s, err = js.UpdateStream(ctx, next)
	if err != nil {
		return nil, StreamUnchanged, fmt.Errorf("bus: update stream %s: %w", StreamName, err)
	}
	return s, StreamUpdated, nil
}

// sameManaged compares the settings EnsureStream manages.
func sameManaged(have, want jetstream.StreamConfig) bool {
	hs, ws := slices.Clone(have.Subjects), slices.Clone(want.Subjects)
	slices.Sort(hs)
	slices.Sort(ws)
	return slices.Equal(hs, ws) &&
		have.Retention == want.Retention &&
		have.Discard == want.Discard &&
		have.MaxAge == want.MaxAge &&
		have.MaxBytes == want.MaxBytes &&
		have.MaxMsgs == want.MaxMsgs &&
		have.Duplicates == want.Duplicates &&
		have.Replicas == want.Replicas
}
