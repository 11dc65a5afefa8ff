//! The build script (`build.rs`) embeds `data/*.json` without indentation: the compact text
//! must read as the same JSON as the committed file (strings, numbers, order), and be smaller.

macro_rules! same_json {
    ($name:literal) => {{
        let committed = include_str!(concat!("../../../data/", $name));
        let embedded = include_str!(concat!(env!("OUT_DIR"), "/", $name));
        let a: serde_json::Value = serde_json::from_str(committed).expect($name);
        let b: serde_json::Value = serde_json::from_str(embedded).expect($name);
        assert_eq!(a, b, "{} reads the same compact", $name);
        assert!(embedded.len() < committed.len(), "{}: the embedded text drops the indentation", $name);
        assert!(!embedded.contains("\n "), "{}: no indentation left", $name);
    }};
}

#[test]
fn the_embedded_catalogues_and_calibration_read_as_the_committed_files() {
    same_json!("calibration.json");
    same_json!("models.json");
    same_json!("devices.json");
    same_json!("nodes.json");
    same_json!("prices.json");
}
