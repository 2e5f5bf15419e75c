package policy

import (
	"context"
	"time"
)

// DefaultAnswerDeadline bounds one answer when the profile sets none: well inside
// Postfix's 100 s socketmap limit, long enough for a slow DNS chain and policy fetch.
const DefaultAnswerDeadline = 25 * time.Second

// answerDeadline bounds a lookup's network work by the profile's answer deadline. The
// timer is made only when the lookup first has to leave the hot store, so an answer from
// memory costs no context, timer or allocation; the deadline then counts from that moment
// (microseconds after the request arrived, or after the read of the persistent store that
// a hot-store miss makes first; that local read is not bounded by it).
//
// Its first use is also the moment the lookup is about to wait on the network, which the
// caller is told of through Options.BeforeWait.
type answerDeadline struct {
	parent context.Context
	limit  time.Duration
	before func(context.Context) // Options.BeforeWait
	ctx    context.Context
	cancel context.CancelFunc
}

func newAnswerDeadline(parent context.Context, p *Profile, before func(context.Context)) answerDeadline {
	limit := p.AnswerDeadline
	if limit <= 0 {
		limit = DefaultAnswerDeadline
	}
	return answerDeadline{parent: parent, limit: limit, before: before}
}

// context returns the bounded context, creating it on first use: every path to the
// network takes it first.
func (a *answerDeadline) context() context.Context {
	if a.ctx == nil {
		if a.before != nil {
			a.before(a.parent)
		}
		a.ctx, a.cancel = context.WithTimeout(a.parent, a.limit)
	}
	return a.ctx
}

// stop releases the timer, if one was made.
func (a *answerDeadline) stop() {
	if a.cancel != nil {
		a.cancel()
	}
}
