package mailin

import (
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/transform"
)

// Message is what intake reads of one email.
type Message struct {
	// MessageID is the Message-ID without angle brackets ("" when none).
	MessageID string
	// Refs are the ids of In-Reply-To and References, newest first.
	Refs     []string
	FromName string
	FromAddr string
	Subject  string
	// Text is the plain-text body (the HTML body with its tags removed
	// when there is no plain one).
	Text        string
	Attachments []File
	// Auto is set for messages no person wrote: bounces, auto-replies,
	// mailing-list and bulk mail. Intake drops them so that two robots
	// never answer each other forever.
	Auto bool
}

// File is one attachment.
type File struct {
	Filename string
	Data     []byte
}

// maxParts bounds the MIME parts one message may have.
const maxParts = 50

// wordDecoder decodes RFC 2047 words in any charset the WHATWG encoding
// standard knows (GBK, GB18030, Big5, Shift_JIS, ISO-8859-x and more).
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		return r, nil
	}
	if cs == "gb2312" {
		cs = "gbk" // GB2312 mail is often GBK in practice; GBK is its superset
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return transform.NewReader(r, enc.NewDecoder()), nil
}

// Parse reads a message (RFC 5322 with MIME). Only a message it cannot
// read at all is an error; parts it cannot read are skipped.
func Parse(r io.Reader) (Message, error) {
	raw, err := mail.ReadMessage(r)
	if err != nil {
		return Message{}, fmt.Errorf("not an email message: %w", err)
	}
	h := raw.Header
	var m Message
	m.MessageID = firstID(h.Get("Message-Id"))
	m.Refs = append(ids(h.Get("In-Reply-To")), reverse(ids(h.Get("References")))...)
	if len(m.Refs) > 30 {
		m.Refs = m.Refs[:30]
	}
	ap := mail.AddressParser{WordDecoder: wordDecoder}
	if a, err := ap.Parse(h.Get("From")); err == nil {
		m.FromName, m.FromAddr = a.Name, a.Address
	}
	m.Subject = decodeHeader(h.Get("Subject"))
	m.Auto = isAuto(h)
	w := walker{m: &m}
	w.part(textproto.MIMEHeader(h), raw.Body, 0)
	if m.Text == "" && w.html != "" {
		m.Text = htmlText(w.html)
	}
	m.Text = strings.TrimSpace(strings.ReplaceAll(m.Text, "\r\n", "\n"))
	return m, nil
}

func decodeHeader(s string) string {
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		d = s
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, d))
}

var idRE = regexp.MustCompile(`<([^<>\s]{1,250})>`)

func ids(s string) []string {
	var out []string
	for _, m := range idRE.FindAllStringSubmatch(s, 100) {
		out = append(out, m[1])
	}
	return out
}

func firstID(s string) string {
	if v := ids(s); len(v) > 0 {
		return v[0]
	}
	return ""
}

func reverse(s []string) []string {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// isAuto reports whether a message was sent by a machine (RFC 3834
// Auto-Submitted, Precedence bulk/list/junk, list mail, delivery reports).
func isAuto(h mail.Header) bool {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "list", "junk", "auto_reply":
		return true
	}
	if h.Get("List-Id") != "" || h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" {
		return true
	}
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return ct == "multipart/report"
}

type walker struct {
	m     *Message
	html  string
	parts int
}

func (w *walker) part(h textproto.MIMEHeader, body io.Reader, depth int) {
	w.parts++
	if w.parts > maxParts || depth > 5 {
		return
	}
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || ct == "" {
		ct, params = "text/plain", map[string]string{"charset": "us-ascii"}
	}
	if strings.HasPrefix(ct, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.part(p.Header, p, depth+1)
		}
	}
	body = decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	filename := decodeHeader(dparams["filename"])
	if filename == "" {
		filename = decodeHeader(params["name"])
	}
	if disp == "attachment" || filename != "" || !strings.HasPrefix(ct, "text/") {
		if ct == "message/rfc822" || strings.HasPrefix(ct, "multipart/") {
			return
		}
		data, err := io.ReadAll(io.LimitReader(body, maxAttachment+1))
		if err != nil || len(data) == 0 {
			return
		}
		w.m.Attachments = append(w.m.Attachments, File{Filename: filename, Data: data})
		return
	}
	if ct != "text/plain" && ct != "text/html" {
		return
	}
	r, err := charsetReader(params["charset"], body)
	if err != nil {
		r = body
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil && len(b) == 0 {
		return
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	switch {
	case ct == "text/plain" && w.m.Text == "":
		w.m.Text = s
	case ct == "text/html" && w.html == "":
		w.html = s
	}
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks base64 bodies are folded with.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

var (
	dropRE  = regexp.MustCompile(`(?is)<(script|style|head)[^>]*>.*?</(script|style|head)>`)
	breakRE = regexp.MustCompile(`(?i)<(br|/p|/div|/li|/tr|/h[1-6])[^>]*>`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
	blankRE = regexp.MustCompile(`\n[ \t]*(\n[ \t]*)+`)
)

// htmlText is an HTML body as plain text: no tags, entities decoded.
func htmlText(s string) string {
	s = dropRE.ReplaceAllString(s, "")
	s = breakRE.ReplaceAllString(s, "\n")
	s = tagRE.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	return strings.TrimSpace(blankRE.ReplaceAllString(s, "\n\n"))
}

var quoteHeadRE = regexp.MustCompile(`(?i)^(on .{1,300} wrote:|在.{1,300}写道[:：]?|-{2,}\s*original message\s*-{2,}|-{2,}\s*原始邮件\s*-{2,}|发件人[:：].*|from:\s.*@.*)$`)

// Reply is the new text of a reply: the quoted message it answers (the
// "> " lines and everything from a "On … wrote:" line on) is cut.
func Reply(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if quoteHeadRE.MatchString(t) {
			break
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		out = append(out, strings.TrimRight(l, " \t\r"))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// cleanSubject drops reply and forward prefixes.
func cleanSubject(s string) string {
	for {
		t := strings.TrimSpace(s)
		low := strings.ToLower(t)
		cut := false
		for _, p := range []string{"re:", "fw:", "fwd:", "aw:", "回复:", "回复：", "转发:", "转发：", "答复:", "答复："} {
			if strings.HasPrefix(low, p) {
				t = t[len(p):]
				cut = true
				break
			}
		}
		if !cut {
			return t
		}
		s = t
	}
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
