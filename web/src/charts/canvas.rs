//! Charts on a `<canvas>`, drawn at the screen's pixel density.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::draw::{draw, font_size};
use super::{Chart, Frame};

/// Draws `chart` on `canvas`, sized to the canvas's displayed width; returns where the data
/// landed, in CSS pixels of the canvas (as pointer events' offsets are).
pub fn draw_on(canvas: &HtmlCanvasElement, chart: &Chart) -> Result<Option<Frame>, String> {
    let (root, font_size) = area(canvas)?;
    draw(&root, font_size, chart)
}

/// A chart's drawing area, in CSS pixels.
type Area = DrawingArea<CanvasBackend, Shift>;

/// Sizes the canvas to its displayed width (CSS pixels) times `devicePixelRatio`, so charts are
/// sharp on high-DPI screens, and returns a drawing area in CSS pixels with the chart's font
/// size: the context scales every coordinate, font and line width by the ratio, so text and
/// lines keep the same apparent size on every screen.
fn area(canvas: &HtmlCanvasElement) -> Result<(Area, u32), String> {
    let width = canvas.client_width().max(280) as u32;
    let height = (width as f64 * 0.6).clamp(220.0, 320.0) as u32;
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let ratio = if ratio.is_finite() { ratio.clamp(1.0, 4.0) } else { 1.0 };
    let (pixels_w, pixels_h) =
        ((width as f64 * ratio).round() as u32, (height as f64 * ratio).round() as u32);
    if canvas.width() != pixels_w || canvas.height() != pixels_h {
        canvas.set_width(pixels_w);
        canvas.set_height(pixels_h);
    }
    // The displayed height follows from the CSS width and the buffer's aspect ratio.
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
        .ok_or("the canvas has no 2D context")?;
    context.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0).map_err(|_| "the canvas refused its scale")?;
    let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("the canvas has no 2D context")?;
    // The backend sees the buffer's size in device pixels; the scaled context draws the CSS
    // pixels of this corner over all of it (rounded up, so the white fill covers every pixel).
    let root = backend
        .into_drawing_area()
        .shrink((0, 0), ((pixels_w as f64 / ratio).ceil() as u32, (pixels_h as f64 / ratio).ceil() as u32));
    Ok((root, font_size(width)))
}
