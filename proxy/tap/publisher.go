package tap

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapline/tapline/bus"
)

// Publisher puts one message on the bus and returns once the bus has stored
// it. msgID is the de-duplication id: publishing the same id again inside
// the stream's duplicate window stores nothing new.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte) error
}

// JetStream returns a Publisher that publishes to JetStream and waits for
// the stream's acknowledgement.
func JetStream(js jetstream.JetStream) Publisher { return jsPublisher{js: js} }

type jsPublisher struct{ js jetstream.JetStream }

func (p jsPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{bus.HeaderMsgID: []string{msgID}}}
	_, err := p.js.PublishMsg(ctx, msg)
	return err
}

var _ Publisher = jsPublisher{}
