package bench

import (
	"fmt"
	"math"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Color  string
	Points [][2]float64 // x, y
}

// Chart is a line chart with a logarithmic x axis (fleet sizes span
// 100 to 10 000) and a linear y axis, rendered as plain SVG so the docs
// need no plotting dependency.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// Goal draws a dashed horizontal line (e.g. the 2 s goal); 0 = none.
	Goal      float64
	GoalLabel string
}

const (
	chartW, chartH = 720, 420
	padL, padR     = 70, 170
	padT, padB     = 40, 55
)

// SVG renders the chart.
func (c Chart) SVG() string {
	xs, ymax := c.bounds()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", padL, esc(c.Title))
	c.axes(&b, xs, ymax)
	for i, s := range c.Series {
		c.line(&b, s, i, xs, ymax)
	}
	if c.Goal > 0 {
		y := c.py(c.Goal, ymax)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" stroke-dasharray="6 4"/>`+"\n", padL, y, chartW-padR, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#c00">%s</text>`+"\n", chartW-padR+6, y+4, esc(c.GoalLabel))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// bounds returns the distinct x values (log-scaled ticks) and a round
// y maximum.
func (c Chart) bounds() ([]float64, float64) {
	seen := map[float64]bool{}
	var xs []float64
	ymax := c.Goal
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !seen[p[0]] {
				seen[p[0]] = true
				xs = append(xs, p[0])
			}
			ymax = math.Max(ymax, p[1])
		}
	}
	return xs, niceCeil(ymax * 1.1)
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*step >= v {
			return m * step
		}
	}
	return 10 * step
}

func (c Chart) px(x float64, xs []float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range xs {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	w := float64(chartW - padL - padR)
	if hi <= lo {
		return padL + w/2
	}
	return padL + w*(math.Log10(x)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
}

func (c Chart) py(y, ymax float64) float64 {
	h := float64(chartH - padT - padB)
	return float64(padT) + h*(1-y/ymax)
}

func (c Chart) axes(b *strings.Builder, xs []float64, ymax float64) {
	x0, y0, x1 := padL, chartH-padB, chartW-padR
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0, y0, x1, y0)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0, padT, x0, y0)
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		y := c.py(v, ymax)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x1, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", x0-6, y+4, v)
	}
	for _, x := range xs {
		px := c.px(x, xs)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", px, y0, px, y0+5)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", px, y0+18, x)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, chartH-12, esc(c.XLabel))
	fmt.Fprintf(b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">%s</text>`+"\n",
		(padT+y0)/2, (padT+y0)/2, esc(c.YLabel))
}

func (c Chart) line(b *strings.Builder, s Series, i int, xs []float64, ymax float64) {
	pts := make([]string, len(s.Points))
	for j, p := range s.Points {
		pts[j] = fmt.Sprintf("%.1f,%.1f", c.px(p[0], xs), c.py(p[1], ymax))
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.Color, strings.Join(pts, " "))
	for _, p := range pts {
		x, y, _ := strings.Cut(p, ",")
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, s.Color)
	}
	ly := padT + 10 + 18*i
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n",
		chartW-padR+10, ly, chartW-padR+30, ly, s.Color)
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", chartW-padR+35, ly+4, esc(s.Name))
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

// FanoutChart plots the phases of fan-out rounds against fleet size
// (one result per size, e.g. the median round).
func FanoutChart(rs []FanoutResult) Chart {
	phase := func(name, color string, f func(FanoutResult) float64) Series {
		s := Series{Name: name, Color: color}
		for _, r := range rs {
			// A phase that never finished (0, or an incomplete
			// execution's wait) is left out rather than drawn as a time.
			if v := f(r); v > 0 {
				s.Points = append(s.Points, [2]float64{float64(r.Agents), v})
			}
		}
		return s
	}
	return Chart{
		Title:  "kanade exec to all: time from API call, 2 cores, swarm and server on one box",
		XLabel: "simulated agents (log scale)", YLabel: "seconds",
		Goal: 2, GoalLabel: "goal 2 s",
		Series: []Series{
			phase("completed (projected)", "#1f77b4", func(r FanoutResult) float64 {
				if r.Incomplete {
					return 0
				}
				return r.Projected.Seconds()
			}),
			phase("all results published", "#ff7f0e", func(r FanoutResult) float64 { return r.Results.Seconds() }),
			phase("all started (delivery)", "#2ca02c", func(r FanoutResult) float64 { return r.Delivery.Seconds() }),
			phase("API answered (publish)", "#9467bd", func(r FanoutResult) float64 { return r.Publish.Seconds() }),
		},
	}
}
