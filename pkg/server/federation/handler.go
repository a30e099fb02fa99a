package federation

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// document is one marshalled bundle as served, with its strong ETag.
type document struct {
	body []byte
	etag string // quoted
	seq  uint64
	// Header values, built once so that serving allocates nothing for
	// them (net/http does not modify header values it is given).
	etagHdr, lengthHdr, typeHdr, cacheHdr []string
}

// newDocument marshals b with its refresh hint replaced by hint.
func newDocument(b *spiffebundle.Bundle, hint time.Duration) (*document, error) {
	b = b.Clone()
	b.SetRefreshHint(hint)
	body, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal bundle of %q: %w", b.TrustDomain(), err)
	}
	sum := sha256.Sum256(body)
	seq, _ := b.SequenceNumber()
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	return &document{
		body: body, etag: etag, seq: seq,
		etagHdr:   []string{etag},
		lengthHdr: []string{strconv.Itoa(len(body))},
		typeHdr:   []string{"application/json"},
		// Revalidate on every use: the ETag makes that cheap, and a
		// foreign server must see a rotation at its next poll.
		cacheHdr: []string{"no-cache"},
	}, nil
}

// handler serves the current document: GET / (and HEAD /) only.
// go-spiffe's federation.NewHandler marshals the bundle on every request
// and has no ETag; this one serves bytes built once per bundle change.
type handler struct {
	doc     atomic.Pointer[document]
	metrics *endpointMetrics
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := h.serve(w, r)
	h.metrics.served(code)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return http.StatusNotFound
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	doc := h.doc.Load()
	if doc == nil {
		http.Error(w, "bundle not available yet", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	hdr := w.Header()
	hdr["Etag"] = doc.etagHdr
	hdr["Cache-Control"] = doc.cacheHdr
	if etagMatch(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	hdr["Content-Type"] = doc.typeHdr
	hdr["Content-Length"] = doc.lengthHdr
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc.body)
	}
	return http.StatusOK
}

// etagMatch reports whether an If-None-Match header lists etag or "*"
// (RFC 9110 13.1.2: weak comparison).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
