//! Browser tests of the page (wasm-bindgen-test in headless Chromium): charts draw on a real
//! canvas (at the screen's pixel density, on linear and log axes) and say where their data
//! landed in the canvas's CSS pixels (for read-outs under the pointer), an empty chart shows
//! its note, and the app mounts a field for every flag the engine defines.
#![cfg(target_arch = "wasm32")]

use llmsim_web::charts::readout::readout;
use llmsim_web::charts::run_charts::cdf_points;
use llmsim_web::charts::{Axes, BarGroup, Chart, Line, PALETTE, Plot, Units, canvas::draw_on, has_points};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn canvas() -> HtmlCanvasElement {
    let canvas: HtmlCanvasElement = document().create_element("canvas").unwrap().unchecked_into();
    canvas.style().set_property("width", "480px").unwrap();
    document().body().unwrap().append_child(&canvas).unwrap();
    canvas
}

fn axes(x: &str, y: &str) -> Axes {
    Axes { x: x.into(), y: y.into() }
}

/// Pixels that are clearly not white.
fn inked(canvas: &HtmlCanvasElement) -> usize {
    let ctx: CanvasRenderingContext2d = canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    let data = ctx.get_image_data(0.0, 0.0, canvas.width() as f64, canvas.height() as f64).unwrap().data();
    data.chunks(4).filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200).count()
}

#[wasm_bindgen_test]
fn cdf_and_bar_charts_draw_on_a_canvas() {
    let quantiles: Vec<f64> = (0..=100).map(|i| 0.05 + (i as f64 / 100.0).powi(2)).collect();
    let line = Line { label: "A #1".into(), color: PALETTE[0], points: cdf_points(&quantiles, 1e3) };
    let c = canvas();
    let lines = vec![line];
    let plot = Plot::Lines {
        axes: axes("TTFT (ms)", "fraction of requests"),
        lines,
        y_range: Some((0.0, 1.0)),
        x_log: false,
        marks: Vec::new(),
    };
    let chart =
        Chart { title: "TTFT: CDF".into(), plot, units: Units { x: "ms", cdf: true, ..Units::default() } };
    let frame = draw_on(&c, &chart).unwrap().expect("a plot has a frame");
    // The plot area lies inside the canvas's 480 CSS pixels, and reads back under the pointer.
    assert!(0 < frame.x_px.0 && frame.x_px.0 < frame.x_px.1 && frame.x_px.1 <= 480, "{frame:?}");
    let middle = f64::from(frame.x_px.0 + frame.x_px.1) / 2.0;
    let text = readout(&chart, &frame, middle).expect("a read-out");
    assert!(text.starts_with("A #1: p") && text.ends_with(" ms"), "{text}");
    let ratio = web_sys::window().unwrap().device_pixel_ratio().clamp(1.0, 4.0);
    assert_eq!(
        c.width(),
        (480.0 * ratio).round() as u32,
        "the drawing buffer follows the displayed width, in device pixels"
    );
    let n = inked(&c);
    assert!(n > 1000, "{n} inked pixels");

    let c = canvas();
    let groups = vec![
        BarGroup { label: "r0".into(), values: vec![70.0, 8.0] },
        BarGroup { label: "r1".into(), values: vec![55.0, 6.0] },
    ];
    let series = vec![("busy %".to_string(), PALETTE[0]), ("MFU %".to_string(), PALETTE[1])];
    let plot = Plot::Bars { axes: axes("replica", "%"), series, groups, y_max: 100.0 };
    draw_on(&c, &Chart { title: "Utilisation".into(), plot, units: Units::default() }).unwrap();
    assert!(inked(&c) > 1000);

    // Latencies spanning decades, on a log axis.
    let c = canvas();
    let tail: Vec<f64> = (0..=100).map(|i| 0.01 * 10f64.powf(f64::from(i) / 25.0)).collect();
    let lines = vec![Line { label: String::new(), color: PALETTE[0], points: cdf_points(&tail, 1.0) }];
    let plot = Plot::Lines {
        axes: axes("E2E (s, log scale)", "fraction"),
        lines,
        y_range: Some((0.0, 1.0)),
        x_log: true,
        marks: Vec::new(),
    };
    let frame = draw_on(&c, &Chart { title: "log".into(), plot, units: Units::default() }).unwrap().unwrap();
    assert!(frame.x_log && frame.x.0 > 0.0);
    assert!(inked(&c) > 1000);
}

#[wasm_bindgen_test]
fn empty_series_still_draw_axes() {
    let c = canvas();
    let plot = Plot::Lines {
        axes: axes("x", "y"),
        lines: Vec::new(),
        y_range: None,
        x_log: false,
        marks: Vec::new(),
    };
    draw_on(&c, &Chart { title: "empty".into(), plot, units: Units::default() }).unwrap();
    assert!(inked(&c) > 100, "axes and labels are drawn");
    assert!(!has_points(&[Line { label: String::new(), color: PALETTE[0], points: vec![] }]));
}

#[wasm_bindgen_test]
fn a_chart_without_data_shows_its_note() {
    let c = canvas();
    let note = "No data: no request completed in this run.".to_string();
    let chart = Chart {
        title: "Time to first token: CDF".into(),
        plot: Plot::Empty { note },
        units: Units::default(),
    };
    assert_eq!(draw_on(&c, &chart).unwrap(), None, "nothing plotted, nothing to read out");
    let n = inked(&c);
    assert!(n > 100, "the title and the note are drawn: {n} inked pixels");
}

#[wasm_bindgen_test]
async fn the_app_mounts_every_flag_and_says_when_the_worker_is_missing() {
    leptos::mount::mount_to_body(llmsim_web::app::App);
    // Let the reactive system render and the (missing) worker script fail.
    for _ in 0..50 {
        sleep_ms(50).await;
        if document().query_selector("[data-testid=error]").unwrap().is_some() {
            break;
        }
    }
    let fields = document().query_selector_all(".field").unwrap().length() as usize;
    assert_eq!(fields, llmsim_engine::all_flags().len(), "one field per flag");
    let preset: web_sys::HtmlSelectElement =
        document().query_selector("[data-testid=preset]").unwrap().unwrap().unchecked_into();
    assert_eq!(preset.value(), "quick-start");
    let model: web_sys::HtmlInputElement =
        document().query_selector("[name=replica_config_model_name]").unwrap().unwrap().unchecked_into();
    assert_eq!(model.value(), "meta-llama/Llama-3.1-8B");
    let error =
        document().query_selector("[data-testid=error]").unwrap().expect("a missing worker is reported");
    assert!(error.text_content().unwrap().contains("could not start"), "{:?}", error.text_content());
}

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}
