// Exports of charts: PNG (the SVG drawn on a canvas) and vector PDF (svg2pdf.js + jsPDF,
// loaded only when the user asks for a PDF so they stay out of the page bundles).

/** Light-theme colours for the text and grid of an exported chart (the file has no CSS). */
const exportStyle = `
text { fill: #111827; font-family: Helvetica, Arial, sans-serif; }
.gantt-grid { stroke: #e5e7eb; }
.gantt-tick { fill: #6b7280; }
.recharts-cartesian-grid line { stroke: #e5e7eb; }
`

/** Saves a blob under a file name through a temporary link. */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** Saves text (CSV, JSON) as a file. */
export function downloadText(text: string, name: string, type: string): void {
  downloadBlob(new Blob([text], { type }), name)
}

// A copy of the chart with explicit size, a white background and the export style, so it
// renders the same outside the page.
function standalone(svg: SVGSVGElement): { clone: SVGSVGElement; width: number; height: number } {
  const box = svg.getBoundingClientRect()
  const width = Math.ceil(Number(svg.getAttribute('width')) || box.width)
  const height = Math.ceil(Number(svg.getAttribute('height')) || box.height)
  const clone = svg.cloneNode(true) as SVGSVGElement
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg')
  clone.setAttribute('width', String(width))
  clone.setAttribute('height', String(height))
  if (!clone.getAttribute('viewBox')) clone.setAttribute('viewBox', `0 0 ${width} ${height}`)
  const style = document.createElementNS('http://www.w3.org/2000/svg', 'style')
  style.textContent = exportStyle
  clone.insertBefore(style, clone.firstChild)
  const bg = document.createElementNS('http://www.w3.org/2000/svg', 'rect')
  bg.setAttribute('width', '100%')
  bg.setAttribute('height', '100%')
  bg.setAttribute('fill', '#ffffff')
  clone.insertBefore(bg, style.nextSibling)
  return { clone, width, height }
}

/** Renders an SVG element to a PNG blob at the given pixel ratio. */
export async function svgToPng(svg: SVGSVGElement, scale = 2): Promise<Blob> {
  const { clone, width, height } = standalone(svg)
  const text = new XMLSerializer().serializeToString(clone)
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml;charset=utf-8' }))
  try {
    const img = new Image()
    img.decoding = 'sync'
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve()
      img.onerror = () => reject(new Error('the chart could not be drawn as an image'))
      img.src = url
    })
    const canvas = document.createElement('canvas')
    canvas.width = width * scale
    canvas.height = height * scale
    const ctx = canvas.getContext('2d')
    if (!ctx) throw new Error('no 2D canvas')
    ctx.scale(scale, scale)
    ctx.drawImage(img, 0, 0, width, height)
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'),
    )
  } finally {
    URL.revokeObjectURL(url)
  }
}

/** Saves an SVG chart as a PNG file. */
export async function exportPNG(svg: SVGSVGElement, name: string): Promise<void> {
  downloadBlob(await svgToPng(svg), name)
}

/** Renders an SVG chart into a one-page vector PDF (the page sized to the chart). */
export async function svgToPdf(svg: SVGSVGElement, title: string): Promise<Blob> {
  const [{ jsPDF }, { svg2pdf }] = await Promise.all([import('jspdf'), import('svg2pdf.js')])
  const { clone, width, height } = standalone(svg)
  const margin = 24
  const doc = new jsPDF({
    orientation: width >= height ? 'landscape' : 'portrait',
    unit: 'pt',
    format: [width + 2 * margin, height + 2 * margin],
  })
  doc.setProperties({ title, creator: 'Baton' })
  // svg2pdf reads computed styles: the copy is laid out off screen while it is converted.
  const host = document.createElement('div')
  host.style.cssText = 'position:fixed;left:-100000px;top:0'
  host.appendChild(clone)
  document.body.appendChild(host)
  try {
    await svg2pdf(clone, doc, { x: margin, y: margin, width, height })
  } finally {
    host.remove()
  }
  return doc.output('blob')
}

/** Saves an SVG chart as a vector PDF file. */
export async function exportPDF(svg: SVGSVGElement, title: string, name: string): Promise<void> {
  downloadBlob(await svgToPdf(svg, title), name)
}
