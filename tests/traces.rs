//! The trace readers against every real trace in `../shared/traces`: row counts, known values,
//! Mooncake session ids against the converted CSV, and parse times (printed, not asserted).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use llmsim_engine::trace::{Trace, TraceFormat, parse_trace, summarize};

/// Reads and parses `shared/traces/<file>`, printing how long parsing took and checking that
/// progress reports grow and end at the file's length.
fn parse_shared(shared: &Path, file: &str) -> Trace {
    let path = shared.join("traces").join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut reports = Vec::new();
    let started = Instant::now();
    let trace = parse_trace(file, &text, &mut |bytes| reports.push(bytes)).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    println!(
        "parsed {file}: {} bytes, {} rows in {:.3} s",
        text.len(),
        trace.rows.len(),
        elapsed.as_secs_f64()
    );
    assert!(reports.windows(2).all(|w| w[0] <= w[1]), "{file}: progress went backwards");
    assert_eq!(reports.last(), Some(&text.len()), "{file}: progress must end at the file length");
    assert!(
        reports.len() > trace.rows.len() / 5000,
        "{file}: progress every few thousand rows, got {}",
        reports.len()
    );
    trace
}

#[test]
fn splitwise_traces_have_arrivals_and_lengths() {
    let Some(shared) = llmsim_tests::shared_dir() else { return };
    let conv = parse_shared(&shared, "splitwise_conv.csv");
    assert_eq!((conv.format, conv.rows.len()), (TraceFormat::VidurCsv, 19_366));
    assert!(conv.has_arrivals() && !conv.has_sessions() && !conv.has_block_hashes());
    let first = &conv.rows[0];
    assert_eq!(
        (first.arrived_at, first.num_prefill_tokens, first.num_decode_tokens, first.line),
        (Some(0.0), 374, 44, 2)
    );
    assert_eq!(conv.rows[1].arrived_at, Some(4.314579));
    let last = conv.rows.last().unwrap();
    assert_eq!(
        (last.arrived_at, last.num_prefill_tokens, last.num_decode_tokens, last.line),
        (Some(3501.721937), 197, 183, 19_367)
    );
    assert!(conv.warnings.is_empty(), "{:?}", conv.warnings);

    let code = parse_shared(&shared, "splitwise_code.csv");
    assert_eq!(code.rows.len(), 8_819);
    assert_eq!(
        (code.rows[1].arrived_at, code.rows[1].num_prefill_tokens, code.rows[1].num_decode_tokens),
        (Some(0.052), 3180, 8)
    );
    let summary = summarize(&code);
    assert_eq!(summary.duration_s, Some(3435.948056));
    assert_eq!(
        (summary.input_tokens.max, summary.num_sessions, summary.prefix_reuse_share),
        (7437.0, None, None)
    );
    assert!((summary.input_tokens.mean - 2047.848282).abs() < 1e-6, "{}", summary.input_tokens.mean);
}

#[test]
fn arxiv_trace_is_lengths_only() {
    let Some(shared) = llmsim_tests::shared_dir() else { return };
    let trace = parse_shared(&shared, "arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv");
    assert_eq!(trace.rows.len(), 28_257);
    assert!(!trace.has_arrivals());
    assert_eq!((trace.rows[0].num_prefill_tokens, trace.rows[0].num_decode_tokens), (3772, 54));
    let last = trace.rows.last().unwrap();
    assert_eq!((last.num_prefill_tokens, last.num_decode_tokens), (3178, 313));
    assert_eq!(summarize(&trace).duration_s, None);
}

#[test]
fn mooncake_jsonl_traces_parse_with_sessions_and_512_token_blocks() {
    let Some(shared) = llmsim_tests::shared_dir() else { return };
    let synthetic = parse_shared(&shared, "mooncake_synthetic_trace.jsonl");
    assert_eq!((synthetic.format, synthetic.rows.len()), (TraceFormat::MooncakeJsonl, 3_993));
    let first = &synthetic.rows[0];
    assert_eq!((first.arrived_at, first.num_prefill_tokens, first.num_decode_tokens), (Some(0.0), 40_160, 6));
    let hashes = first.block_hashes.as_ref().unwrap();
    assert_eq!((hashes.tokens_per_id, hashes.ids.len(), hashes.ids[78]), (512, 79, 78));
    assert_eq!(summarize(&synthetic).num_sessions, Some(2_224));
    assert!(synthetic.warnings.is_empty(), "{:?}", synthetic.warnings);

    let conversation = parse_shared(&shared, "mooncake_conversation_trace.jsonl");
    assert_eq!(conversation.rows.len(), 12_031);
    let summary = summarize(&conversation);
    println!("{summary:?}");
    assert_eq!((summary.num_sessions, summary.duration_s), (Some(7_373), Some(3536.999)));
    assert!(conversation.warnings.is_empty(), "{:?}", conversation.warnings);
}

#[test]
fn mooncake_sessions_match_the_converted_csv_row_by_row() {
    let Some(shared) = llmsim_tests::shared_dir() else { return };
    let jsonl = parse_shared(&shared, "mooncake_conversation_trace.jsonl");
    let csv = parse_shared(&shared, "mooncake_conversation_trace.csv");
    assert_eq!((csv.format, csv.rows.len()), (TraceFormat::VidurCsv, 12_031));
    assert_eq!(jsonl.rows.len(), csv.rows.len());
    let mut split_blocks: HashMap<u64, Vec<u64>> = HashMap::new();
    for (i, (j, c)) in jsonl.rows.iter().zip(&csv.rows).enumerate() {
        assert_eq!(j.session_id, c.session_id, "row {i}: session ids differ");
        assert_eq!(
            (j.num_prefill_tokens, j.num_decode_tokens),
            (c.num_prefill_tokens, c.num_decode_tokens),
            "row {i}: lengths differ"
        );
        let (ja, ca) = (j.arrived_at.unwrap(), c.arrived_at.unwrap());
        assert!((ja - ca).abs() < 5e-4, "row {i}: arrivals {ja} and {ca} differ");
        // The CSV splits each 512-token block into 32 ids of 16 tokens: a Mooncake block that
        // the prompt fills must become the same 32 ids wherever it occurs.
        let (coarse, fine) = (j.block_hashes.as_ref().unwrap(), c.block_hashes.as_ref().unwrap());
        assert_eq!((coarse.tokens_per_id, fine.tokens_per_id), (512, 16));
        let full_blocks = (j.num_prefill_tokens / 512) as usize;
        for (k, id) in coarse.ids[..full_blocks].iter().enumerate() {
            let split = &fine.ids[32 * k..32 * (k + 1)];
            let known = split_blocks.entry(*id).or_insert_with(|| split.to_vec());
            assert_eq!(known.as_slice(), split, "row {i}: Mooncake block {id} split differently");
        }
    }
    let first = &csv.rows[0];
    let hashes = first.block_hashes.as_ref().unwrap();
    assert_eq!(
        (first.session_id, hashes.ids.len(), hashes.ids[0], hashes.ids[453]),
        (Some(0), 454, 0, 5_849_310)
    );
    let (js, cs) = (summarize(&jsonl), summarize(&csv));
    println!("prefix reuse share: jsonl {:?}, csv {:?}", js.prefix_reuse_share, cs.prefix_reuse_share);
    assert_eq!(cs.num_sessions, Some(7_373));
}
