package sqlitestore

import (
	"container/list"

	"github.com/mailtls/mailtls/cache"
)

// opKey identifies an entry.
type opKey struct{ kind, key string }

// op is one write-behind operation: a put of e, or a delete of k.
type op struct {
	k   opKey
	del bool
	e   cache.Entry
}

// queue holds pending operations, at most one per key, oldest first. A later
// operation on a key replaces the earlier one and counts as the newest. It is
// not safe for concurrent use; Store guards it with its mutex.
type queue struct {
	order *list.List // of *op, oldest at the front
	byKey map[opKey]*list.Element
}

func newQueue() *queue {
	return &queue{order: list.New(), byKey: make(map[opKey]*list.Element)}
}

func (q *queue) len() int { return q.order.Len() }

// add records o as the newest operation.
func (q *queue) add(o *op) {
	if el, ok := q.byKey[o.k]; ok {
		q.order.Remove(el)
	}
	q.byKey[o.k] = q.order.PushBack(o)
}

// get returns the pending operation for k.
func (q *queue) get(k opKey) (*op, bool) {
	el, ok := q.byKey[k]
	if !ok {
		return nil, false
	}
	return el.Value.(*op), true
}

// dropOldest removes the oldest operation.
func (q *queue) dropOldest() {
	el := q.order.Front()
	if el == nil {
		return
	}
	q.order.Remove(el)
	delete(q.byKey, el.Value.(*op).k)
}

// takeAll empties the queue and returns its operations, oldest first.
func (q *queue) takeAll() []*op {
	ops := make([]*op, 0, q.order.Len())
	for el := q.order.Front(); el != nil; el = el.Next() {
		ops = append(ops, el.Value.(*op))
	}
	q.order.Init()
	clear(q.byKey)
	return ops
}

// restore puts back ops taken by takeAll whose flush failed. They are older
// than anything queued since, so they go in front, and a key queued again in
// the meantime keeps its newer operation.
func (q *queue) restore(ops []*op) {
	for i := len(ops) - 1; i >= 0; i-- {
		o := ops[i]
		if _, newer := q.byKey[o.k]; newer {
			continue
		}
		q.byKey[o.k] = q.order.PushFront(o)
	}
}

// snapshot copies the operations for kind ("" = all) into a map.
func (q *queue) snapshot(kind string) map[opKey]*op {
	m := make(map[opKey]*op)
	for el := q.order.Front(); el != nil; el = el.Next() {
		o := el.Value.(*op)
		if kind == "" || o.k.kind == kind {
			m[o.k] = o
		}
	}
	return m
}
