package hosting

// Class groups requests for metrics without a label per domain.
type Class uint8

// Request classes.
const (
	ClassUnknown  Class = iota // the Host is not a hosted policy host name
	ClassConfig                // a policy from the configuration (mx listed or auto)
	ClassMirror                // a mirrored upstream policy
	ClassRetiring              // a domain being removed (RFC 8461 §8.3)
	numClasses
)

func (c Class) String() string {
	switch c {
	case ClassConfig:
		return "hosted"
	case ClassMirror:
		return "mirror"
	case ClassRetiring:
		return "retiring"
	}
	return "unknown"
}

func (e *entry) class() Class {
	switch {
	case e.spec.Retiring:
		return ClassRetiring
	case e.spec.Upstream != "":
		return ClassMirror
	}
	return ClassConfig
}
