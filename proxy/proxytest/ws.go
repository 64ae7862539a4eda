package proxytest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// WebSocket is a minimal RFC 6455 client, enough to show that an upgrade
// passes through the proxy and frames flow both ways.
type WebSocket struct {
	conn net.Conn
	br   *bufio.Reader
	Resp *http.Response
}

// DialWebSocket performs the opening handshake over conn (already connected,
// TLS or not) for path, with extra request headers.
func DialWebSocket(conn net.Conn, host, path string, header http.Header) (*WebSocket, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req, err := http.NewRequest(http.MethodGet, "http://"+host+path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("websocket: status %d: %s", resp.StatusCode, body)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return nil, errors.New("websocket: bad Sec-WebSocket-Accept")
	}
	return &WebSocket{conn: conn, br: br, Resp: resp}, nil
}

// WriteText sends one masked text frame.
func (w *WebSocket) WriteText(s string) error { return w.writeFrame(0x1, []byte(s)) }

// Close sends a close frame and closes the connection.
func (w *WebSocket) Close() error {
	_ = w.writeFrame(0x8, []byte{0x03, 0xe8})
	return w.conn.Close()
}

func (w *WebSocket) writeFrame(op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	_, err := w.conn.Write(append(hdr, masked...))
	return err
}

// ReadText reads one unfragmented text frame from the server.
func (w *WebSocket) ReadText() (string, error) {
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return "", err
	}
	if h[0]&0x0f != 0x1 {
		return "", fmt.Errorf("websocket: opcode %#x, want text", h[0]&0x0f)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return "", err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return "", err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return "", errors.New("websocket: frame too large")
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(w.br, buf); err != nil {
		return "", err
	}
	return strings.Clone(string(buf)), nil
}
