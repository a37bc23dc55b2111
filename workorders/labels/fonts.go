package labels

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

// DefaultFontPaths lists the fonts labels are drawn with when PDM_LABEL_FONT
// is not set, in order; those that exist are used. DejaVu Sans
// (fonts-dejavu-core) draws Latin text, Droid Sans Fallback
// (fonts-droid-fallback, installed by deploy/local/services.sh deps) draws
// Chinese, Japanese and Korean; Noto Sans CJK (fonts-noto-cjk) and AR PL
// UMing (fonts-arphic-uming) are used when installed instead.
func DefaultFontPaths() []string {
	return []string{
		"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
		"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
		"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/truetype/arphic/uming.ttc",
	}
}

// Font is one loaded font file.
type Font struct {
	Path string
	f    *opentype.Font
	// ttf holds the file when it is a single TrueType font, which the PDF
	// can embed; nil for collections and PostScript (CFF) outlines, which
	// only the PNG draws.
	ttf []byte
}

// Fonts are the fonts labels are drawn with: each character is drawn
// with the first font that has a glyph for it. Empty Fonts draw with a
// built-in face that has ASCII only (other characters become '?').
type Fonts []*Font

// LoadFonts reads the font files; the error names every file that
// cannot be read or parsed.
func LoadFonts(paths []string) (Fonts, error) {
	var fs Fonts
	var errs []error
	for _, p := range paths {
		f, err := loadFont(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fs = append(fs, f)
	}
	return fs, errors.Join(errs...)
}

func loadFont(path string) (*Font, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("label font %s: %w", path, err)
	}
	c, err := opentype.ParseCollection(b)
	if err != nil {
		return nil, fmt.Errorf("label font %s: %w", path, err)
	}
	f, err := c.Font(0)
	if err != nil {
		return nil, fmt.Errorf("label font %s: %w", path, err)
	}
	lf := &Font{Path: path, f: f}
	if v := b[:4]; c.NumFonts() == 1 && (bytes.Equal(v, []byte{0, 1, 0, 0}) || string(v) == "true") {
		lf.ttf = b
	}
	return lf, nil
}

// FindFonts loads the fonts named in spec (PDM_LABEL_FONT: font files
// separated by the system's list separator, ':' on Linux), or, when spec
// is empty or none of its files loads, those of DefaultFontPaths that
// exist. It logs what it uses, and says clearly when labels can show
// ASCII only.
func FindFonts(spec string, log *slog.Logger) Fonts {
	if spec = strings.TrimSpace(spec); spec != "" {
		fs, err := LoadFonts(filepath.SplitList(spec))
		if err != nil {
			log.Warn("PDM_LABEL_FONT: some fonts could not be loaded", "err", err)
		}
		if len(fs) > 0 {
			log.Info("label fonts", "fonts", fs.paths(), "pdf_embeddable", fs.embeddable())
			return fs
		}
		log.Warn("PDM_LABEL_FONT: no font loaded; searching the default fonts", "default", DefaultFontPaths())
	}
	var fs Fonts
	for _, p := range DefaultFontPaths() {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		f, err := loadFont(p)
		if err != nil {
			log.Warn("label font skipped", "err", err)
			continue
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		log.Warn("no label font found: names outside ASCII print as '?' on labels; install fonts-droid-fallback and fonts-dejavu-core (deploy/local/services.sh deps) or set PDM_LABEL_FONT",
			"searched", DefaultFontPaths())
		return nil
	}
	if !fs.covers('泵') {
		log.Warn("label fonts have no Chinese glyphs: Chinese names print as boxes; install fonts-droid-fallback or set PDM_LABEL_FONT", "fonts", fs.paths())
	}
	log.Info("label fonts", "fonts", fs.paths(), "pdf_embeddable", fs.embeddable())
	return fs
}

func (fs Fonts) paths() []string {
	var ps []string
	for _, f := range fs {
		ps = append(ps, f.Path)
	}
	return ps
}

func (fs Fonts) embeddable() []string {
	var ps []string
	for _, f := range fs {
		if f.ttf != nil {
			ps = append(ps, f.Path)
		}
	}
	return ps
}

func (fs Fonts) covers(r rune) bool {
	var buf sfnt.Buffer
	for _, f := range fs {
		if f.has(&buf, r) {
			return true
		}
	}
	return false
}

func (f *Font) has(buf *sfnt.Buffer, r rune) bool {
	i, err := f.f.GlyphIndex(buf, r)
	return err == nil && i != 0
}

// run is a stretch of text drawn with one font (index into Fonts; -1: the
// built-in fallback).
type run struct {
	font int
	text string
}

// runs splits s into stretches each drawn with the first font of fs that
// has all their characters; ok tells which fonts may be used. A character
// no font has is drawn by the built-in fallback when it has it (up to
// maxFallback), else as '?'.
func (fs Fonts) runs(s string, ok func(*Font) bool, maxFallback rune) []run {
	var buf sfnt.Buffer
	var rs []run
	find := func(r rune) int {
		for i, f := range fs {
			if ok(f) && f.has(&buf, r) {
				return i
			}
		}
		return -1
	}
	for _, r := range s {
		k := find(r)
		if k < 0 && r > maxFallback {
			r = '?'
			k = find(r)
		}
		if r == ' ' && len(rs) > 0 {
			k = rs[len(rs)-1].font // a space joins the stretch before it
		}
		if n := len(rs); n > 0 && rs[n-1].font == k {
			rs[n-1].text += string(r)
			continue
		}
		rs = append(rs, run{font: k, text: string(r)})
	}
	return rs
}
