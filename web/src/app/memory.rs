//! One GPU's memory before running, under the cluster's fields: a bar of weights, KV cache and
//! reserve (and unused memory), and what the KV cache holds in tokens and concurrent requests;
//! with the engine's warnings about the configuration, so they are read before the run. A
//! disaggregated cluster shows one GPU of each pool: the prefill pool's (the cluster fields)
//! and the decode pool's (`data-testid=memory-decode`), each from its own memory plan.

use leptos::prelude::*;

use super::state::AppState;
use crate::memory::MemoryBreakdown;
use crate::summary::group_thousands;

/// The memory panel (`data-testid=memory`).
#[component]
pub fn MemoryPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let memory = Memo::new(move |_| state.check.with(|c| c.memory.clone()));
    let decode_memory = Memo::new(move |_| state.check.with(|c| c.decode_memory.clone()));
    let warnings = Memo::new(move |_| state.check.with(|c| c.warnings.clone()));
    view! {
        <div class="memory" data-testid="memory" aria-live="polite">
            <h3>"Memory per GPU"</h3>
            {move || match (memory.get(), decode_memory.get()) {
                (Some(m), Some(d)) => view! {
                    <div class="memory-pool" data-testid="memory-prefill">
                        <h4>"Prefill pool"</h4>
                        {breakdown(m)}
                    </div>
                    <div class="memory-pool" data-testid="memory-decode">
                        <h4>"Decode pool"</h4>
                        {breakdown(d)}
                    </div>
                }
                .into_any(),
                (Some(m), None) => breakdown(m).into_any(),
                (None, _) => view! { <p class="help">"Shown once the cluster's settings are valid."</p> }.into_any(),
            }}
            <For each=move || warnings.get() key=|w| w.clone() let:warning>
                <p class="warning">{warning}</p>
            </For>
        </div>
    }
}

fn gib(x: f64) -> String {
    format!("{x:.1} GiB")
}

/// The bar and the figures of one breakdown.
fn breakdown(m: MemoryBreakdown) -> impl IntoView {
    let total = m.total_gib.max(m.weights_gib + m.kv_gib + m.reserve_gib);
    let parts = m.parts();
    let bar = parts
        .iter()
        .map(|(name, size)| {
            let class = format!("part {}", name.to_ascii_lowercase().replace(' ', "-"));
            let width = format!("{:.2}%", size / total * 100.0);
            view! { <span class=class style:width=width title=format!("{name}: {}", gib(*size))></span> }
        })
        .collect_view();
    let per_replica = if m.gpus_per_replica > 1 {
        format!(" (the most loaded of a replica's {} GPUs)", m.gpus_per_replica)
    } else {
        String::new()
    };
    let overflow = (m.unused_gib < -0.005).then(|| {
        view! {
            <p class="warning">
                {format!("The KV cache set by cache_config_num_blocks needs {} more than this GPU has.", gib(-m.unused_gib))}
            </p>
        }
    });
    let fit = |tokens: u64, requests: u64| {
        format!(
            "{} concurrent requests of {} tokens",
            group_thousands(&requests.to_string()),
            group_thousands(&tokens.to_string())
        )
    };
    let typical = m.typical.map(|(tokens, requests)| {
        view! { <li>{format!("{} (this workload's mean request)", fit(tokens, requests))}</li> }
    });
    let bar_label = parts.iter().map(|(n, s)| format!("{n} {}", gib(*s))).collect::<Vec<_>>().join(", ");
    view! {
        <p class="help">{format!("{}{per_replica}", m.device)}</p>
        <div class="memory-bar" role="img" aria-label=bar_label>
            {bar}
        </div>
        <table class="memory-parts">
            <tbody>
                {parts.into_iter().map(|(name, size)| {
                    let what = match name {
                        "Weights" => "the model's parameters on this GPU".to_string(),
                        "KV cache" => format!("{} blocks of {} tokens", group_thousands(&m.num_blocks.to_string()), m.block_size),
                        "Reserve" => format!("activations and runtime: the {:.0} % margin", m.margin_percent),
                        _ => "a KV cache set smaller than what fits".to_string(),
                    };
                    let class = format!("swatch {}", name.to_ascii_lowercase().replace(' ', "-"));
                    view! { <tr><th><span class=class></span>{name}</th><td>{gib(size)}</td><td>{what}</td></tr> }
                }).collect_view()}
            </tbody>
        </table>
        {overflow}
        <p>{format!("A replica's KV cache holds {} tokens: at once,", group_thousands(&m.kv_tokens.to_string()))}</p>
        <ul class="memory-fit">
            <li>{format!("{} (the model's full context)", fit(u64::from(m.max_model_len), m.requests_at_max_len))}</li>
            {typical}
        </ul>
    }
}
