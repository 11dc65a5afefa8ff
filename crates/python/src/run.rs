//! `llmsim._llmsim.run`: one simulation, with the GIL released, and its result (`Run`), whose
//! files are rendered by the engine and written in the CLI's layout.

use std::path::PathBuf;

use llmsim_cli::output;
use llmsim_engine::{Report, SimConfig, Simulation};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::errors;
use crate::inputs::{self, FileSource};

/// Events simulated between two checks for a pending signal (Ctrl-C raises
/// `KeyboardInterrupt` within a fraction of a second rather than at the end of a long run).
const EVENTS_PER_SIGNAL_CHECK: u64 = 200_000;

/// A file flag's contents as Python gives them: a path (`str`) or the bytes.
#[derive(FromPyObject)]
pub enum FileArg {
    /// A path, read from disk.
    Path(String),
    /// The file's contents.
    Bytes(PyBackedBytes),
}

/// Validates `config_json` (a flat JSON object of Vidur flag names), reads the files it needs
/// (`files`: file flag → path or bytes) and runs the simulation to the end. The GIL is released
/// while files are read and the simulation runs.
#[pyfunction]
pub fn run(py: Python<'_>, config_json: String, files: Vec<(String, FileArg)>) -> PyResult<Run> {
    let files = files
        .into_iter()
        .map(|(flag, arg)| {
            let source = match arg {
                FileArg::Path(path) => FileSource::Path(path),
                FileArg::Bytes(bytes) => FileSource::Bytes(bytes),
            };
            (flag, source)
        })
        .collect();
    let loaded = py.detach(|| inputs::load(&config_json, files)).map_err(|e| errors::to_py(py, e))?;
    let sim_config = loaded.sim_config;
    // The simulation is made, run and finished on this side of the release: it holds its
    // policies as trait objects that are not `Send`.
    let mut report = py.detach(|| -> PyResult<Report> {
        let mut sim = Simulation::new(&sim_config);
        loop {
            sim.run_for_events(EVENTS_PER_SIGNAL_CHECK);
            if sim.is_finished() {
                return Ok(sim.finish());
            }
            Python::attach(|py| py.check_signals())?;
        }
    })?;
    report.warnings.extend(loaded.warnings);
    Ok(Run { sim_config, report })
}

/// A finished simulation: its validated configuration and its report.
#[pyclass(frozen, module = "llmsim._llmsim")]
pub struct Run {
    sim_config: SimConfig,
    report: Report,
}

#[pymethods]
impl Run {
    /// `summary.json`'s text.
    fn summary_json(&self) -> String {
        self.report.summary_json()
    }

    /// `request_metrics.csv`'s text (the header alone when per-request metrics are off).
    fn request_metrics_csv(&self, py: Python<'_>) -> String {
        py.detach(|| self.report.request_metrics_csv())
    }

    /// `config.json`'s text: every flag, as the run used it.
    fn config_json(&self) -> String {
        serde_json::to_string_pretty(&self.report.config).expect("config serialises") + "\n"
    }

    /// The run's warnings (also in `summary.json`).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.report.warnings.clone()
    }

    /// Writes the run's files as `llmsim` does: into `dir` (created if missing), or with no
    /// `dir` into `<metrics_config_output_dir>/<timestamp>/` (straight into the output directory
    /// with `metrics_config_no_timestamp`). An earlier run's files of llmsim's own names are
    /// removed first. Returns the directory.
    #[pyo3(signature = (dir=None))]
    fn write(&self, py: Python<'_>, dir: Option<PathBuf>) -> PyResult<PathBuf> {
        py.detach(|| self.write_files(dir)).map_err(PyOSError::new_err)
    }
}

impl Run {
    fn write_files(&self, dir: Option<PathBuf>) -> Result<PathBuf, String> {
        let dir = match dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("could not create the directory {}: {e}", dir.display()))?;
                dir
            }
            None => output::create_dir(&self.sim_config)?,
        };
        output::remove_stale(&dir)?;
        output::write_config(&dir, &self.sim_config)?;
        if self.sim_config.metrics.write_metrics {
            output::write(&dir, &self.sim_config, &self.report)?;
        }
        Ok(dir)
    }
}
