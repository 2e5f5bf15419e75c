package dnstest

// Remove deletes the records of qtype at name (qtype 0: every record at name), so a test
// can change a record by removing it and adding the new one.
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = canon(name)
	if qtype == 0 {
		delete(s.records, name)
		return
	}
	kept := s.records[name][:0:0]
	for _, rr := range s.records[name] {
		if rr.Header().Rrtype != qtype {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		delete(s.records, name)
		return
	}
	s.records[name] = kept
}
