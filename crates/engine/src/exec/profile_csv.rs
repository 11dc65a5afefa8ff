//! A profile table (Vidur's or AIConfigurator's CSV) read whole with its header, with field
//! errors that name the file, row and column; shared by the profile predictor and the
//! calibration tool.

use std::collections::HashMap;

/// A CSV table: header names to column indices, and every row.
pub struct ProfileCsv {
    path: String,
    columns: HashMap<String, usize>,
    rows: Vec<csv::StringRecord>,
}

impl ProfileCsv {
    /// Reads `text`, the contents of `path` (named in errors). Rows may be shorter than the
    /// header; their missing fields read as empty.
    pub fn parse(path: &str, text: &str) -> Result<ProfileCsv, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let columns = reader.headers().map_err(|e| format!("{path}: cannot read the header: {e}"))?.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
        let rows = reader.records().enumerate().map(|(i, r)| r.map_err(|e| format!("{path} row {}: {e}", i + 2))).collect::<Result<Vec<_>, _>>()?;
        Ok(ProfileCsv { path: path.to_string(), columns, rows })
    }

    /// Data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of column `name`, if present.
    pub fn find_column(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    /// The index of column `name`; an error if absent.
    pub fn column(&self, name: &str) -> Result<usize, String> {
        self.find_column(name).ok_or_else(|| format!("{}: missing column '{name}'", self.path))
    }

    /// Row `i`'s field `col` as text (empty when the row is short).
    pub fn text(&self, i: usize, col: usize) -> &str {
        self.rows[i].get(col).unwrap_or("")
    }

    /// Row `i`'s field `col` (called `name` in errors) as a number (`True`/`False` as 1/0);
    /// `None` when empty or NaN.
    pub fn num(&self, i: usize, col: usize, name: &str) -> Result<Option<f64>, String> {
        let text = self.text(i, col).trim();
        match text {
            "" | "nan" | "NaN" => Ok(None),
            "True" | "true" => Ok(Some(1.0)),
            "False" | "false" => Ok(Some(0.0)),
            _ => text.parse::<f64>().map(Some).map_err(|_| format!("{} row {} field '{name}': '{text}' is not a number", self.path, i + 2)),
        }
    }

    /// Row `i`'s field `col` as a number; an error when empty.
    pub fn need(&self, i: usize, col: usize, name: &str) -> Result<f64, String> {
        self.num(i, col, name)?.ok_or_else(|| format!("{} row {} field '{name}' is empty", self.path, i + 2))
    }

    /// The indices of columns `names`.
    pub fn columns(&self, names: &[&str]) -> Result<Vec<usize>, String> {
        names.iter().map(|n| self.column(n)).collect()
    }

    /// Every row's values of columns `cols` (called `names`), each required to be a number.
    pub fn number_rows(&self, names: &[&str], cols: &[usize]) -> Result<Vec<Vec<f64>>, String> {
        (0..self.rows.len()).map(|i| names.iter().zip(cols).map(|(n, c)| self.need(i, *c, n)).collect()).collect()
    }
}
