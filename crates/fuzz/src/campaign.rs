//! A campaign: executions `0..n` of a seed, run by child processes so that an abort (an
//! allocation failure, a stack overflow) or a hang is pinned on the execution that caused it.
//!
//! Each child (`llmsim-fuzz --child`) runs executions `start, start + stride, ...`, writing
//! `S i` before execution `i` and `F i kind<TAB>message` after one with a finding. The
//! supervisor reads those lines: a child that dies names the execution it had started (an
//! abort); a child that spends more than the watchdog's limit of its own CPU time without a word
//! is killed (a hang); either way a new child takes over after that execution. The limit counts
//! the child's CPU time, not wall time, so that a campaign run at low priority beside other work
//! (where a child may wait minutes for a core) reports no false hangs; a child silent for ten
//! times the limit in wall time is killed too, in case it hangs without using the CPU. Unique findings (by [`Finding::signature`]) are
//! regenerated from the seed, minimised in process when they can be (panics and invariant
//! violations), and written to the findings directory as `case.json` with their files.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::case::Case;
use crate::execute::{ExecLimits, Finding, Verdict, execute};
use crate::mutate::generate;
use crate::seeds::Seeds;

thread_local! {
    static PANIC_LOCATION: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Replaces the panic hook with one that records where a panic happened, quietly: a campaign
/// catches panics by the thousand.
pub fn install_quiet_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
        PANIC_LOCATION.with(|p| *p.borrow_mut() = location);
    }));
}

/// Where the latest panic on this thread happened (with [`install_quiet_panic_hook`]).
pub fn last_panic_location() -> String {
    PANIC_LOCATION.with(|p| p.borrow().clone())
}

/// A campaign's settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The campaign's seed.
    pub seed: u64,
    /// Executions to run.
    pub executions: u64,
    /// Child processes running at once.
    pub workers: u64,
    /// CPU seconds a child may spend without a word before it is killed as hung (ten times as
    /// many seconds of wall time, where its CPU time cannot be read).
    pub hang_secs: u64,
    /// Where findings are written.
    pub findings_dir: PathBuf,
    /// Per-execution limits.
    pub limits: ExecLimits,
    /// The repository root (seeds).
    pub repo: PathBuf,
    /// `../shared`, if present (seeds).
    pub shared: Option<PathBuf>,
    /// Extra arguments for the children (the limits).
    pub child_args: Vec<String>,
}

/// What a campaign did.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Executions run.
    pub executions: u64,
    /// Inputs refused with an error.
    pub refused: u64,
    /// Inputs accepted (parsed, or built and run).
    pub accepted: u64,
    /// Runs cut at the event budget.
    pub cut: u64,
    /// Events simulated.
    pub events: u64,
    /// Executions by target.
    pub by_target: BTreeMap<String, u64>,
    /// Findings: signature → (first execution, finding).
    pub findings: BTreeMap<String, (u64, Finding)>,
}

/// Runs executions `start, start + stride, ... < end` in this process, writing the protocol
/// lines to `out`. The child side of a campaign.
pub fn run_child(
    seeds: &Seeds,
    seed: u64,
    start: u64,
    stride: u64,
    end: u64,
    limits: &ExecLimits,
    out: &mut dyn Write,
) {
    install_quiet_panic_hook();
    let mut totals = [0u64; 4];
    let mut i = start;
    while i < end {
        let case = generate(seeds, seed, i);
        // A supervisor that is gone (its pipe closed) ends the child.
        if writeln!(out, "S {i} {}", case.target.name()).and_then(|()| out.flush()).is_err() {
            return;
        }
        match execute(&case, limits) {
            Verdict::Refused => totals[0] += 1,
            Verdict::Accepted { events, cut } => {
                totals[1] += 1;
                totals[2] += u64::from(cut);
                totals[3] += events;
            }
            Verdict::Finding(f) => {
                let _ = writeln!(out, "F {i} {}\t{}", f.kind, f.message);
            }
        }
        i += stride;
    }
    let _ = writeln!(out, "D {} {} {} {}", totals[0], totals[1], totals[2], totals[3]);
    let _ = out.flush();
}

/// A line from child `id` of generation `gen` (a replaced child's late lines are ignored).
enum Line {
    Text(usize, u64, String),
    Closed(usize, u64),
}

struct Worker {
    child: Child,
    /// The execution it started last, and when it last spoke (wall time, and its CPU time then).
    current: Option<u64>,
    last_heard: Instant,
    cpu_when_heard: Option<Duration>,
    stride: u64,
    generation: u64,
    done: bool,
}

/// Runs a campaign with child processes of `exe`; `progress` is called about every second.
pub fn run(options: &Options, exe: &Path, progress: &mut dyn FnMut(&Totals, Duration)) -> Totals {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<Line>();
    let workers = options.workers.max(1);
    let mut pool: Vec<Worker> = Vec::new();
    let mut generations = 0u64;
    let mut spawn = |id: usize, start: u64, tx: mpsc::Sender<Line>| -> Worker {
        generations += 1;
        let generation = generations;
        let mut command = Command::new(exe);
        command
            .args(["--child", "--seed", &options.seed.to_string(), "--start", &start.to_string()])
            .args(["--stride", &workers.to_string(), "--executions", &options.executions.to_string()])
            .args(&options.child_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("the harness starts its own binary");
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Line::Text(id, generation, l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(Line::Closed(id, generation));
        });
        let cpu_when_heard = cpu_time(child.id());
        Worker {
            child,
            current: None,
            last_heard: Instant::now(),
            cpu_when_heard,
            stride: workers,
            generation,
            done: false,
        }
    };
    for k in 0..workers {
        pool.push(spawn(k as usize, k, tx.clone()));
    }
    let mut totals = Totals::default();
    let mut last_progress = Instant::now();
    let hang = Duration::from_secs(options.hang_secs);
    while pool.iter().any(|w| !w.done) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Line::Text(id, generation, _)) | Ok(Line::Closed(id, generation))
                if pool[id].generation != generation => {}
            Ok(Line::Text(id, _, line)) => {
                let w = &mut pool[id];
                w.last_heard = Instant::now();
                w.cpu_when_heard = cpu_time(w.child.id());
                let mut parts = line.splitn(3, ' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("S"), Some(i), target) => {
                        w.current = i.parse().ok();
                        totals.executions += 1;
                        *totals.by_target.entry(target.unwrap_or("?").to_string()).or_default() += 1;
                    }
                    (Some("F"), Some(i), Some(rest)) => {
                        let (kind, message) = rest.split_once('\t').unwrap_or((rest, ""));
                        let finding = Finding { kind: kind.to_string(), message: message.to_string() };
                        record(&mut totals, i.parse().unwrap_or(0), finding);
                    }
                    (Some("D"), Some(refused), Some(rest)) => {
                        let n: Vec<u64> = rest.split(' ').filter_map(|x| x.parse().ok()).collect();
                        totals.refused += refused.parse::<u64>().unwrap_or(0);
                        if let [accepted, cut, events] = n[..] {
                            totals.accepted += accepted;
                            totals.cut += cut;
                            totals.events += events;
                        }
                        w.current = None;
                    }
                    _ => {}
                }
            }
            Ok(Line::Closed(id, _)) => {
                let w = &mut pool[id];
                let status = w.child.wait().ok();
                match w.current.take() {
                    // Died inside an execution: an abort. A new child goes on after it.
                    Some(i) => {
                        let how = status.map_or("an unknown status".to_string(), |s| s.to_string());
                        record(
                            &mut totals,
                            i,
                            Finding {
                                kind: "abort".into(),
                                message: format!("the process ended with {how}"),
                            },
                        );
                        let stride = w.stride;
                        pool[id] = spawn(id, i + stride, tx.clone());
                    }
                    None => w.done = true,
                }
            }
            Err(_) => {}
        }
        for id in 0..pool.len() {
            let w = &mut pool[id];
            if w.done || w.current.is_none() {
                continue;
            }
            let silent = w.last_heard.elapsed();
            let cpu_spent = match (w.cpu_when_heard, cpu_time(w.child.id())) {
                (Some(then), Some(now)) => Some(now.saturating_sub(then)),
                _ => None,
            };
            let message = match cpu_spent {
                Some(cpu) if cpu > hang => format!("no progress for {} s of CPU time", hang.as_secs()),
                _ if silent > hang * 10 => format!("no progress for {} s", silent.as_secs()),
                None if silent > hang => format!("no progress for {} s", hang.as_secs()),
                _ => continue,
            };
            {
                let i = w.current.take().unwrap_or(0);
                let _ = w.child.kill();
                let _ = w.child.wait();
                record(&mut totals, i, Finding { kind: "hang".into(), message });
                // The old child's lines (its reader reports it closed) carry an old
                // generation and are ignored; the new child takes the slot.
                let stride = w.stride;
                pool[id] = spawn(id, i + stride, tx.clone());
            }
        }
        if last_progress.elapsed() > Duration::from_secs(1) {
            progress(&totals, started.elapsed());
            last_progress = Instant::now();
        }
    }
    totals
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`; `None`
/// where that cannot be read (not Linux, or the process is gone).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_time(&stat)
}

/// The `utime` and `stime` fields (14 and 15) of a `/proc/<pid>/stat` line, in clock ticks of
/// 1/100 s: Linux reports them in `USER_HZ`, which is 100 on every architecture it exposes to
/// user space. The command name (field 2) is in parentheses and may hold spaces, so fields are
/// counted after its closing parenthesis.
fn parse_cpu_time(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(user.checked_add(system)?.checked_mul(10)?))
}

fn record(totals: &mut Totals, index: u64, finding: Finding) {
    totals.findings.entry(finding.signature()).or_insert((index, finding));
}

/// Writes each finding's input (minimised in process for panics and invariant violations) to
/// `dir/<n>-<kind>/`: `case.json` (replay with `llmsim-fuzz --replay`), its files, and
/// `finding.txt`.
pub fn write_findings(totals: &Totals, seeds: &Seeds, options: &Options) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (n, (signature, (index, finding))) in totals.findings.iter().enumerate() {
        let case = generate(seeds, options.seed, *index);
        let minimal = if matches!(finding.kind.as_str(), "panic" | "invariant" | "unlocated-error" | "stall")
        {
            minimise(&case, signature, &options.limits)
        } else {
            case.clone()
        };
        let dir = options.findings_dir.join(format!("{n:03}-{}", finding.kind));
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_string_pretty(&minimal.to_json()).unwrap_or_default();
        std::fs::write(dir.join("case.json"), json)?;
        for (path, bytes) in &minimal.files {
            std::fs::write(dir.join(path.replace(['/', '\\'], "_")), bytes)?;
        }
        let text = format!(
            "{}: {}\nexecution {index} of seed {}; target {}; {} bytes minimised from {}\nreplay: llmsim-fuzz --replay {}\n",
            finding.kind,
            finding.message,
            options.seed,
            case.target.name(),
            minimal.size(),
            case.size(),
            dir.join("case.json").display()
        );
        std::fs::write(dir.join("finding.txt"), text)?;
        written.push(dir);
    }
    Ok(written)
}

/// Shrinks `case` while it still gives a finding with `signature`: drops pairs, then files'
/// lines, then bytes (halving chunks), up to a few thousand executions.
pub fn minimise(case: &Case, signature: &str, limits: &ExecLimits) -> Case {
    install_quiet_panic_hook();
    shrink(case, |c| matches!(execute(c, limits), Verdict::Finding(f) if f.signature() == signature))
}

/// Shrinks `case` while `still` holds of it.
fn shrink(case: &Case, still: impl Fn(&Case) -> bool) -> Case {
    let mut best = case.clone();
    let mut budget = 3000;
    let mut i = 0;
    while i < best.pairs.len() && budget > 0 {
        let mut trial = best.clone();
        trial.pairs.remove(i);
        budget -= 1;
        if still(&trial) { best = trial } else { i += 1 }
    }
    for f in 0..best.files.len() {
        for unit in [Unit::Lines, Unit::Bytes] {
            let mut chunk = best.files[f].1.len().max(1);
            while chunk >= 1 && budget > 0 {
                let mut start = 0;
                while start < best.files[f].1.len() && budget > 0 {
                    let mut trial = best.clone();
                    if !unit.remove(&mut trial.files[f].1, start, chunk) {
                        break;
                    }
                    budget -= 1;
                    if still(&trial) { best = trial } else { start += chunk }
                }
                if chunk == 1 {
                    break;
                }
                chunk /= 2;
            }
        }
    }
    best
}

#[derive(Clone, Copy)]
enum Unit {
    Lines,
    Bytes,
}

impl Unit {
    /// Removes `count` units from unit `start` on; false when there is nothing there.
    fn remove(self, bytes: &mut Vec<u8>, start: usize, count: usize) -> bool {
        match self {
            Unit::Bytes => {
                if start >= bytes.len() {
                    return false;
                }
                let end = (start + count).min(bytes.len());
                bytes.drain(start..end);
                true
            }
            Unit::Lines => {
                let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
                if start >= lines.len() {
                    return false;
                }
                let end = (start + count).min(lines.len());
                lines.drain(start..end);
                *bytes = lines.join(&b'\n');
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Target;

    #[test]
    fn shrinking_keeps_what_matters_and_drops_the_rest() {
        let case = Case {
            target: Target::Trace,
            pairs: vec![("seed".into(), "1".into()), ("keep".into(), "1".into())],
            files: vec![(
                "t.csv".into(),
                b"num_prefill_tokens,num_decode_tokens\n1,2\n3,4\nx,y\n5,6\n".to_vec(),
            )],
        };
        // "The finding": a pair named keep and an x in the file.
        let still = |c: &Case| c.pairs.iter().any(|(k, _)| k == "keep") && c.files[0].1.contains(&b'x');
        let small = shrink(&case, still);
        assert_eq!(small.pairs, [("keep".to_string(), "1".to_string())]);
        assert_eq!(small.files[0].1, b"x");
    }

    #[test]
    fn a_located_error_is_no_finding() {
        let case = Case {
            target: Target::Trace,
            pairs: Vec::new(),
            files: vec![("t.csv".into(), b"num_prefill_tokens,num_decode_tokens\n1,2\nx,y\n".to_vec())],
        };
        assert_eq!(execute(&case, &ExecLimits::default()), Verdict::Refused);
    }

    #[test]
    fn cpu_time_reads_user_and_system_ticks_after_the_command_name() {
        // A command name with spaces and a parenthesis; utime 250 and stime 31 ticks.
        let stat = "4242 (llm sim (x)) R 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 1 0 100 200 300";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(2_810)));
        assert_eq!(parse_cpu_time("4242 (short) R 1 2"), None);
        assert_eq!(parse_cpu_time("no parenthesis"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_time_of_a_live_process_grows_with_work() {
        let before = cpu_time(std::process::id()).expect("readable on Linux");
        let mut x = 0u64;
        // Spin until the tick counter moves (at least one tick, 10 ms), however slow the host.
        while cpu_time(std::process::id()).expect("readable") == before {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        assert!(cpu_time(std::process::id()).expect("readable") > before);
        assert!(cpu_time(u32::MAX).is_none(), "no such process");
    }
}
