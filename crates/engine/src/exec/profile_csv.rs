//! A profile table (Vidur's or AIConfigurator's CSV) read whole with its header, with field
//! errors that name the file, row and column; shared by the profile predictor and the
//! calibration tool.

use std::collections::HashMap;

/// A CSV table: header names to column indices, and every row.
pub struct ProfileCsv {
    path: String,
    headers: Vec<String>,
    columns: HashMap<String, usize>,
    rows: Vec<csv::StringRecord>,
}

impl ProfileCsv {
    /// Reads `text`, the contents of `path` (named in errors). Rows may be shorter than the
    /// header; their missing fields read as empty.
    pub fn parse(path: &str, text: &str) -> Result<ProfileCsv, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{path}: cannot read the header: {e}"))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let columns = headers.iter().enumerate().map(|(i, h)| (h.clone(), i)).collect();
        let rows = reader
            .records()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| format!("{path} row {}: {e}", i + 2)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProfileCsv { path: path.to_string(), headers, columns, rows })
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
    /// `None` when empty or `nan`. Infinite values are refused.
    pub fn num(&self, i: usize, col: usize, name: &str) -> Result<Option<f64>, String> {
        let text = self.text(i, col).trim();
        match text {
            "" | "nan" | "NaN" => Ok(None),
            "True" | "true" => Ok(Some(1.0)),
            "False" | "false" => Ok(Some(0.0)),
            _ => match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                Ok(_) => Err(format!(
                    "{} row {} field '{name}': '{text}' is not a finite number",
                    self.path,
                    i + 2
                )),
                Err(_) => {
                    Err(format!("{} row {} field '{name}': '{text}' is not a number", self.path, i + 2))
                }
            },
        }
    }

    /// Row `i`'s field `col` as a number; an error when empty.
    pub fn need(&self, i: usize, col: usize, name: &str) -> Result<f64, String> {
        self.num(i, col, name)?.ok_or_else(|| format!("{} row {} field '{name}' is empty", self.path, i + 2))
    }

    /// Row `i`'s field `col` as a measured time: `None` when empty (the table leaves the op
    /// out there, as pandas writes a missing value); an error naming the file, row and column
    /// when it is not a finite number ≥ 0 (negative, `inf` or an explicit NaN), since such a
    /// time would silently distort every prediction interpolated from it.
    pub fn time(&self, i: usize, col: usize) -> Result<Option<f64>, String> {
        let text = self.text(i, col).trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = |why: &str| {
            format!(
                "{}, row {}, column '{}': '{text}' {why} (hint: a measured time must be a finite number ≥ 0; leave the cell empty if the op was not measured)",
                self.path,
                i + 2,
                self.header(col)
            )
        };
        match text.parse::<f64>() {
            Ok(x) if x.is_nan() => Err(bad("is not a number")),
            Ok(x) if x.is_infinite() => Err(bad("is not a finite time")),
            Ok(x) if x < 0.0 => Err(bad("is a negative time")),
            Ok(x) => Ok(Some(x)),
            Err(_) => Err(bad("is not a number")),
        }
    }

    /// Row `i`'s field `col` as a measured time ([`ProfileCsv::time`]); an error when empty.
    pub fn need_time(&self, i: usize, col: usize) -> Result<f64, String> {
        self.time(i, col)?.ok_or_else(|| {
            format!("{}, row {}, column '{}': the time is empty", self.path, i + 2, self.header(col))
        })
    }

    /// The header of column `col`.
    pub fn header(&self, col: usize) -> &str {
        self.headers.get(col).map_or("", String::as_str)
    }

    /// The indices of columns `names`.
    pub fn columns(&self, names: &[&str]) -> Result<Vec<usize>, String> {
        names.iter().map(|n| self.column(n)).collect()
    }

    /// Every row's values of columns `cols` (called `names`), each required to be a number.
    pub fn number_rows(&self, names: &[&str], cols: &[usize]) -> Result<Vec<Vec<f64>>, String> {
        (0..self.rows.len())
            .map(|i| names.iter().zip(cols).map(|(n, c)| self.need(i, *c, n)).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "num_tokens,time_stats.mlp_up_proj.median\n8,0.5\n16,-5\n24,inf\n32,NaN\n40,\n48,abc\n";

    #[test]
    fn bad_times_name_the_file_row_and_column() {
        let t = ProfileCsv::parse("mlp.csv", TABLE).unwrap();
        let col = t.column("time_stats.mlp_up_proj.median").unwrap();
        assert_eq!(t.time(0, col), Ok(Some(0.5)));
        for (row, why) in [(1, "negative"), (2, "finite"), (3, "not a number"), (5, "not a number")] {
            let e = t.time(row, col).unwrap_err();
            assert!(
                e.starts_with(&format!("mlp.csv, row {}, column 'time_stats.mlp_up_proj.median'", row + 2)),
                "{e}"
            );
            assert!(e.contains(why), "{e}");
        }
        assert_eq!(t.time(4, col), Ok(None), "an empty cell is a missing measurement");
        assert!(t.need_time(4, col).unwrap_err().contains("row 6"));
    }

    #[test]
    fn infinite_keys_are_refused() {
        let t = ProfileCsv::parse("mlp.csv", "num_tokens\ninf\n").unwrap();
        assert!(t.need(0, 0, "num_tokens").unwrap_err().contains("finite"));
    }
}
