package service

// State is the readiness of a process. /readyz answers 200 only in Ready.
type State int32

// The readiness states, in the order a process goes through them.
const (
	NotReady State = iota // starting
	Ready                 // every component started
	Stopping              // shutting down
)

func (s State) String() string {
	switch s {
	case NotReady:
		return "not ready"
	case Ready:
		return "ready"
	case Stopping:
		return "stopping"
	default:
		return "unknown"
	}
}
