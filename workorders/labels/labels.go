// Package labels draws printable asset labels: a QR code pointing at the
// asset's public request form, with the asset's code and name, as a PNG
// (one label) or a PDF (one label, or a sheet of all a site's assets).
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
	"golang.org/x/image/math/fixed"
)

// Label is one asset's label.
type Label struct {
	Code string // the asset's code
	Name string
	Site string // the site's name
	URL  string // the request form, e.g. https://pdm.example.com/r/S1/P-1
}

// PNG draws one label: the QR code with the code and name beneath it.
// Text outside ASCII is drawn as '?' (the PDF has the same limit).
func PNG(l Label) ([]byte, error) {
	q, err := qrcode.New(l.URL, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	const size, pad, line = 320, 16, 18
	img := image.NewRGBA(image.Rect(0, 0, size+2*pad, size+2*pad+3*line))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(pad, pad, pad+size, pad+size), q.Image(size), image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	for i, s := range []string{l.Code, l.Name, l.Site} {
		s = ascii(s, 46)
		w := d.MeasureString(s).Ceil()
		d.Dot = fixed.P((img.Bounds().Dx()-w)/2, pad+size+line*(i+1))
		d.DrawString(s)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// PDF lays labels out on A4, 3 across and 4 down (one per page section of
// 70 × 74 mm), each with its QR code, code, name and site.
func PDF(ls []Label) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetAutoPageBreak(false, 0)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
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
		pdf.SetFont("Helvetica", "B", 12)
		pdf.SetXY(x+2, y+46)
		pdf.CellFormat(w-4, 6, tr(clip(l.Code, 40)), "", 2, "C", false, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(w-4, 5, tr(clip(l.Name, 48)), "", 2, "C", false, 0, "")
		pdf.CellFormat(w-4, 5, tr(clip(l.Site, 48)), "", 2, "C", false, 0, "")
		pdf.SetFont("Helvetica", "", 6)
		pdf.CellFormat(w-4, 4, tr(clip(l.URL, 80)), "", 2, "C", false, 0, "")
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

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func ascii(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 32 || r > 126 {
			return '?'
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}
