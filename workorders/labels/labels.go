// Package labels draws printable asset labels: a QR code pointing at the
// asset's public request form, with the asset's code and name, as a PNG
// (one label) or a PDF (one label, or a sheet of all a site's assets).
// Text is drawn with OpenType fonts (Fonts), so Chinese names print.
package labels

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"

	"github.com/go-pdf/fpdf"
	"github.com/skip2/go-qrcode"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Label is one asset's label.
type Label struct {
	Code string // the asset's code
	Name string
	Site string // the site's name
	URL  string // the request form, e.g. https://pdm.example.com/r/S1/P-1
}

// Renderer draws labels with its fonts. It is safe for concurrent use.
type Renderer struct {
	fonts Fonts
}

// New is a renderer drawing with fonts (nil: ASCII only, see Fonts).
func New(fonts Fonts) *Renderer { return &Renderer{fonts: fonts} }

// PNG draws one label: the QR code with the code, name and site beneath
// it, each line cut with "…" to the label's width.
func (r *Renderer) PNG(l Label) ([]byte, error) {
	q, err := qrcode.New(l.URL, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	const size, pad, line = 320, 16, 22
	img := image.NewRGBA(image.Rect(0, 0, size+2*pad, size+2*pad+3*line))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(pad, pad, pad+size, pad+size), q.Image(size), image.Point{}, draw.Src)
	faces := make([]font.Face, len(r.fonts))
	for i, f := range r.fonts {
		face, err := opentype.NewFace(f.f, &opentype.FaceOptions{Size: 15, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return nil, fmt.Errorf("label font %s: %w", f.Path, err)
		}
		defer face.Close()
		faces[i] = face
	}
	face := func(k int) font.Face {
		if k < 0 {
			return basicfont.Face7x13
		}
		return faces[k]
	}
	all := func(*Font) bool { return true }
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black)}
	width := func(rs []run) fixed.Int26_6 {
		var w fixed.Int26_6
		for _, x := range rs {
			d.Face = face(x.font)
			w += d.MeasureString(x.text)
		}
		return w
	}
	maxW := fixed.I(img.Bounds().Dx() - 2*pad)
	for i, s := range []string{l.Code, l.Name, l.Site} {
		rs := r.fonts.runs(printable(s, r.fonts), all, '~')
		for cut := []rune(s); width(rs) > maxW && len(cut) > 1; {
			cut = cut[:len(cut)-1]
			rs = r.fonts.runs(printable(string(cut), r.fonts)+"…", all, '~')
		}
		d.Dot = fixed.Point26_6{X: (fixed.I(img.Bounds().Dx()) - width(rs)) / 2, Y: fixed.I(pad + size + line*(i+1) - 4)}
		for _, x := range rs {
			d.Face = face(x.font)
			d.DrawString(x.text)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// printable replaces control characters, and every character outside
// ASCII when there are no fonts (the built-in face has ASCII only).
func printable(s string, fs Fonts) string {
	return strings.Map(func(r rune) rune {
		if r < 32 || r == 127 || len(fs) == 0 && r > 126 {
			return '?'
		}
		if r == '…' && len(fs) == 0 {
			return '.'
		}
		return r
	}, s)
}

// PDF lays labels out on A4, 3 across and 4 down (one per page section of
// 70 × 74 mm), each with its QR code, code, name and site. Text is drawn
// with the fonts that the PDF can embed (single TrueType files); other
// characters fall back to Helvetica (Latin-1).
func (r *Renderer) PDF(ls []Label) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetAutoPageBreak(false, 0)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	embeddable := func(f *Font) bool { return f.ttf != nil }
	used := map[int]bool{}
	family := func(k int) string {
		if k < 0 {
			return "Helvetica"
		}
		name := fmt.Sprintf("label%d", k)
		if !used[k] {
			// Fonts are added to the document when first used: a sheet of
			// ASCII codes embeds no Chinese font.
			pdf.AddUTF8FontFromBytes(name, "", r.fonts[k].ttf)
			used[k] = true
		}
		return name
	}
	// line draws s centred in a cell of width w at (x, y), switching fonts
	// between stretches of text, cut with "…" to the width.
	line := func(x, y, w, h, size float64, s string) {
		var rs []run
		var total float64
		for cut := []rune(s); ; cut = cut[:len(cut)-1] {
			t := string(cut)
			if len(cut) < len([]rune(s)) {
				t += "…"
			}
			rs, total = r.fonts.runs(t, embeddable, 'ÿ'), 0
			for i, x := range rs {
				pdf.SetFont(family(x.font), "", size)
				if x.font < 0 {
					rs[i].text = tr(x.text)
				}
				total += pdf.GetStringWidth(rs[i].text)
			}
			if total <= w || len(cut) <= 1 {
				break
			}
		}
		pdf.SetXY(x+(w-total)/2, y)
		for _, x := range rs {
			pdf.SetFont(family(x.font), "", size)
			pdf.CellFormat(pdf.GetStringWidth(x.text), h, x.text, "", 0, "L", false, 0, "")
		}
	}
	const cols, rows, w, h, mx, my = 3, 4, 70.0, 74.0, 0.0, 0.5
	for i, l := range ls {
		if i%(cols*rows) == 0 {
			pdf.AddPage()
		}
		k := i % (cols * rows)
		x, y := mx+float64(k%cols)*w, my+float64(k/cols)*h
		q, err := qrcode.New(l.URL, qrcode.Medium)
		if err != nil {
			return nil, fmt.Errorf("qr %s: %w", l.Code, err)
		}
		img, err := q.PNG(512)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("qr%d", i)
		pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(img))
		pdf.ImageOptions(name, x+15, y+4, 40, 40, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		line(x+2, y+46, w-4, 6, 12, l.Code)
		line(x+2, y+52, w-4, 5, 9, l.Name)
		line(x+2, y+57, w-4, 5, 9, l.Site)
		line(x+2, y+62, w-4, 4, 6, l.URL)
		pdf.SetDrawColor(200, 200, 200)
		pdf.Rect(x+1, y+1, w-2, h-2, "D")
	}
	if len(ls) == 0 {
		pdf.AddPage()
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
