package labels

import (
	"bytes"
	"compress/zlib"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fonts are the default fonts; the Debian packages are part of the
// project's dependencies (deploy/local/services.sh deps), so their absence
// fails the test rather than skipping it.
func fonts(t *testing.T) Fonts {
	t.Helper()
	fs := FindFonts("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !fs.covers('泵') || !fs.covers('P') {
		t.Fatalf("default label fonts %v lack Latin or Chinese glyphs: run deploy/local/services.sh deps (fonts-dejavu-core, fonts-droid-fallback)", fs.paths())
	}
	return fs
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// nameRow is the band of the label where the name line is drawn.
func nameRow(img image.Image) image.Rectangle {
	b := img.Bounds()
	const size, pad, line = 320, 16, 22
	return image.Rect(0, pad+size+line, b.Dx(), pad+size+2*line)
}

// ink counts the dark pixels in r.
func ink(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if v, _, _, _ := img.At(x, y).RGBA(); v < 0x8000 {
				n++
			}
		}
	}
	return n
}

// differ counts the pixels of r that differ between a and b.
func differ(a, b image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return n
}

func TestPNGDrawsChineseNames(t *testing.T) {
	r := New(fonts(t))
	l := Label{Code: "P-1", Site: "Plant 1", URL: "https://pdm.example.com/r/S1/P-1"}
	draw := func(name string) image.Image {
		l := l
		l.Name = name
		b, err := r.PNG(l)
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, b)
	}
	empty, pump, station, marks := draw(""), draw("离心泵一号"), draw("泵站二号"), draw("?????")
	row := nameRow(empty)
	if n := ink(empty, row); n != 0 {
		t.Fatalf("an empty name has %d dark pixels in the name row", n)
	}
	// Chinese names draw glyphs: ink where the name goes, different for
	// different names, and not what question marks look like (the old
	// ASCII-only face drew every Chinese character as '?').
	if n := ink(pump, row); n < 150 {
		t.Errorf("离心泵一号 drew %d dark pixels in the name row; want glyphs", n)
	}
	if n := differ(pump, station, row); n < 100 {
		t.Errorf("离心泵一号 and 泵站二号 differ in %d pixels; each character should have its own glyph", n)
	}
	if n := differ(pump, marks, row); n < 100 {
		t.Errorf("离心泵一号 and ????? differ in %d pixels; Chinese was drawn as question marks", n)
	}
	// The rest of the label does not move with the name.
	above := image.Rect(0, 0, row.Dx(), row.Min.Y)
	if n := differ(pump, empty, above); n != 0 {
		t.Errorf("the QR code and code line changed with the name (%d pixels)", n)
	}
}

func TestPNGCutsLongNamesToTheLabel(t *testing.T) {
	r := New(fonts(t))
	b, err := r.PNG(Label{Code: "P-1", Name: strings.Repeat("离心泵", 40), URL: "https://x/r/S/P-1"})
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)
	row := nameRow(img)
	// The label keeps a 16-pixel margin: nothing is drawn in it.
	for _, edge := range []image.Rectangle{image.Rect(0, row.Min.Y, 16, row.Max.Y), image.Rect(row.Max.X-16, row.Min.Y, row.Max.X, row.Max.Y)} {
		if n := ink(img, edge); n != 0 {
			t.Errorf("a long name spills into the margin %v (%d dark pixels)", edge, n)
		}
	}
	if n := ink(img, row); n < 1000 {
		t.Errorf("a long name drew only %d dark pixels", n)
	}
}

func TestCharactersNoFontHasPrintAsQuestionMarks(t *testing.T) {
	r := New(fonts(t))
	draw := func(name string) image.Image {
		b, err := r.PNG(Label{Code: "P-1", Name: name, URL: "https://x/r/S/P-1"})
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, b)
	}
	// U+1F6E0 (hammer and wrench) is in neither default font.
	a, b := draw("泵\U0001F6E0"), draw("泵?")
	if n := differ(a, b, a.Bounds()); n != 0 {
		t.Errorf("a character no font has should print as '?'; %d pixels differ", n)
	}
	if _, err := r.PDF([]Label{{Code: "P-1", Name: "泵\U0001F6E0 é", URL: "https://x/r/S/P-1"}}); err != nil {
		t.Fatal(err)
	}
}

func TestWithoutFontsASCIIOnly(t *testing.T) {
	// Without fonts the built-in face draws ASCII; other characters are
	// '?' (the documented fallback), and nothing fails.
	r := New(nil)
	a, err := r.PNG(Label{Code: "P-1", Name: "泵站", URL: "https://x/r/S/P-1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.PNG(Label{Code: "P-1", Name: "??", URL: "https://x/r/S/P-1"})
	if err != nil {
		t.Fatal(err)
	}
	ia, ib := decode(t, a), decode(t, b)
	if n := differ(ia, ib, ia.Bounds()); n != 0 {
		t.Errorf("without fonts 泵站 should print as ??; %d pixels differ", n)
	}
	if n := ink(ia, nameRow(ia)); n == 0 {
		t.Error("without fonts the name row is empty")
	}
}

func TestLoadFontsNamesEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.ttf")
	if err := os.WriteFile(junk, []byte("not a font"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.ttf")
	fs, err := LoadFonts([]string{junk, missing})
	if err == nil || len(fs) != 0 {
		t.Fatalf("LoadFonts(junk, missing) = %v, %v; want an error and no fonts", fs, err)
	}
	for _, p := range []string{junk, missing} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("the error %q does not name %s", err, p)
		}
	}
	// A bad PDM_LABEL_FONT falls back to the default search, and says so.
	var logs bytes.Buffer
	got := FindFonts(junk, slog.New(slog.NewTextHandler(&logs, nil)))
	if !got.covers('泵') {
		t.Errorf("FindFonts(bad) = %v; want the default fonts", got.paths())
	}
	if !strings.Contains(logs.String(), "PDM_LABEL_FONT") || !strings.Contains(logs.String(), junk) {
		t.Errorf("the log does not say PDM_LABEL_FONT %s failed:\n%s", junk, logs.String())
	}
	// An explicit list is used in its order.
	droid := "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
	got = FindFonts(droid, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if p := got.paths(); len(p) != 1 || p[0] != droid {
		t.Errorf("FindFonts(%s) = %v", droid, p)
	}
}

// pdfText is the text drawn in the PDF's content streams: fpdf writes text
// of embedded fonts as UTF-16BE code points (Identity-H, CIDs are the
// characters), in compressed streams.
func pdfText(t *testing.T, b []byte) []byte {
	t.Helper()
	var all []byte
	for rest := b; ; {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		rest = rest[i+len("stream\n"):]
		j := bytes.Index(rest, []byte("endstream"))
		if j < 0 {
			t.Fatal("a stream without endstream")
		}
		if z, err := zlib.NewReader(bytes.NewReader(rest[:j])); err == nil {
			if d, err := io.ReadAll(z); err == nil {
				all = append(all, d...)
			}
		}
		rest = rest[j+len("endstream"):]
	}
	return all
}

func utf16be(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}

func TestPDFEmbedsFontsForChineseNames(t *testing.T) {
	r := New(fonts(t))
	ls := []Label{
		{Code: "P-1", Name: "离心泵一号", Site: "一号泵站", URL: "https://pdm.example.com/r/S1/P-1"},
		{Code: "P-2", Name: "Pump 2", Site: "Plant 1", URL: "https://pdm.example.com/r/S1/P-2"},
	}
	b, err := r.PDF(ls)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, b)
	for _, s := range []string{"离心泵一号", "一号泵站"} {
		if !bytes.Contains(text, utf16be(s)) {
			t.Errorf("the PDF does not draw %s with an embedded font", s)
		}
	}
	if !bytes.Contains(text, utf16be("Pump 2")) {
		t.Error("the PDF does not draw Pump 2 with the embedded Latin font")
	}
	if n := bytes.Count(b, []byte("/FontFile2")); n != 2 {
		t.Errorf("the PDF embeds %d TrueType fonts; want 2 (Latin and Chinese)", n)
	}
	// A sheet of ASCII labels embeds no Chinese font.
	b, err = r.PDF(ls[1:])
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("/FontFile2")); n != 1 {
		t.Errorf("an ASCII sheet embeds %d fonts; want 1", n)
	}
}

// BenchmarkPDFOneLabel measures one Chinese label as a PDF (the font is
// parsed and subset for every document).
func BenchmarkPDFOneLabel(b *testing.B) {
	fs := FindFonts("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := New(fs)
	l := Label{Code: "P-1", Name: "离心泵一号", Site: "一号泵站", URL: "https://pdm.example.com/r/S1/P-1"}
	for b.Loop() {
		if _, err := r.PDF([]Label{l}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPNGOneLabel measures one Chinese label as a PNG.
func BenchmarkPNGOneLabel(b *testing.B) {
	r := New(FindFonts("", slog.New(slog.NewTextHandler(io.Discard, nil))))
	l := Label{Code: "P-1", Name: "离心泵一号", Site: "一号泵站", URL: "https://pdm.example.com/r/S1/P-1"}
	for b.Loop() {
		if _, err := r.PNG(l); err != nil {
			b.Fatal(err)
		}
	}
}
