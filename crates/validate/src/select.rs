//! Choosing points: `--filter column=value` and the even thinning of `--max N`.

use thiserror::Error;

use crate::points::{PointsFile, ServingPoint};

/// A bad `--filter`.
#[derive(Debug, Error, PartialEq)]
pub enum FilterError {
    /// Not of the form `column=value`.
    #[error("--filter '{0}': expected column=value, e.g. backend=vllm")]
    Syntax(String),
    /// A column the points file does not have.
    #[error("--filter '{filter}': the points file has no column '{column}' (it has {columns})")]
    UnknownColumn { filter: String, column: String, columns: String },
}

/// Keep rows whose `column` equals `value` exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Column name.
    pub column: String,
    /// Value to match.
    pub value: String,
}

impl Filter {
    /// Parses `column=value` (the value may contain `=`; surrounding spaces are trimmed).
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let (column, value) = text.split_once('=').ok_or_else(|| FilterError::Syntax(text.to_string()))?;
        let (column, value) = (column.trim(), value.trim());
        if column.is_empty() {
            return Err(FilterError::Syntax(text.to_string()));
        }
        Ok(Filter { column: column.to_string(), value: value.to_string() })
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.column, self.value)
    }
}

/// Indices of the rows of `file` that pass `filters`: every filtered column must match, and
/// several filters on one column match any of their values.
pub fn filter_rows(file: &PointsFile, filters: &[Filter]) -> Result<Vec<usize>, FilterError> {
    let mut by_column: Vec<(usize, Vec<&str>)> = Vec::new();
    for f in filters {
        let column =
            file.headers.iter().position(|h| *h == f.column).ok_or_else(|| FilterError::UnknownColumn {
                filter: f.to_string(),
                column: f.column.clone(),
                columns: file.headers.join(", "),
            })?;
        match by_column.iter_mut().find(|(c, _)| *c == column) {
            Some((_, values)) => values.push(&f.value),
            None => by_column.push((column, vec![&f.value])),
        }
    }
    let keep = |p: &ServingPoint| by_column.iter().all(|(c, values)| values.contains(&p.fields[*c].as_str()));
    Ok(file.points.iter().enumerate().filter(|(_, p)| keep(p)).map(|(i, _)| i).collect())
}

/// An even spread of at most `max` of `items`, in their order: item ⌊i·n/max⌋ for i < max.
/// It depends only on positions, never on what the items are.
pub fn spread<T: Copy>(items: &[T], max: usize) -> Vec<T> {
    let n = items.len();
    if max >= n {
        return items.to_vec();
    }
    (0..max).map(|i| items[i * n / max]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::parse_points;
    use crate::points::tests::{HEADER, row};

    #[test]
    fn filters_parse_column_equals_value() {
        assert_eq!(
            Filter::parse("backend=vllm").unwrap(),
            Filter { column: "backend".into(), value: "vllm".into() }
        );
        assert_eq!(Filter::parse(" system = h200_sxm ").unwrap().value, "h200_sxm");
        assert_eq!(Filter::parse("a=b=c").unwrap().value, "b=c");
        assert_eq!(Filter::parse("backend").unwrap_err(), FilterError::Syntax("backend".into()));
        assert_eq!(Filter::parse("=vllm").unwrap_err(), FilterError::Syntax("=vllm".into()));
    }

    #[test]
    fn filters_and_across_columns_and_or_within_one() {
        let text = format!(
            "{HEADER}\n{}\n{}\n{}\n",
            row(&[("backend", "vllm"), ("system", "h100_sxm")]),
            row(&[("backend", "sglang"), ("system", "h200_sxm")]),
            row(&[("backend", "trtllm"), ("system", "h200_sxm")]),
        );
        let file = parse_points(&text, "f").unwrap();
        let rows = |filters: &[&str]| {
            let filters: Vec<Filter> = filters.iter().map(|f| Filter::parse(f).unwrap()).collect();
            filter_rows(&file, &filters).unwrap()
        };
        assert_eq!(rows(&[]), vec![0, 1, 2]);
        assert_eq!(rows(&["system=h200_sxm"]), vec![1, 2]);
        assert_eq!(rows(&["system=h200_sxm", "backend=trtllm"]), vec![2]);
        assert_eq!(rows(&["backend=vllm", "backend=trtllm"]), vec![0, 2]);
        let err = filter_rows(&file, &[Filter::parse("engine=vllm").unwrap()]).unwrap_err();
        assert!(
            err.to_string().starts_with("--filter 'engine=vllm': the points file has no column 'engine'"),
            "{err}"
        );
    }

    #[test]
    fn spread_takes_evenly_spaced_items() {
        let items: Vec<usize> = (0..10).collect();
        assert_eq!(spread(&items, 4), vec![0, 2, 5, 7]);
        assert_eq!(spread(&items, 10), items);
        assert_eq!(spread(&items, 20), items);
        assert_eq!(spread(&items, 0), Vec::<usize>::new());
        assert_eq!(spread(&items, 1), vec![0]);
    }
}
