//! A CSV file read row by row with its columns looked up by header name, for the CSV formats.

use super::{Source, TraceError};

/// A CSV table: its header, and a reader positioned at the next row.
pub(super) struct CsvTable<'a> {
    source: &'a Source<'a>,
    text: &'a str,
    reader: csv::Reader<&'a [u8]>,
    lines: LineCounter,
    header: Vec<String>,
    header_line: u64,
    record: csv::StringRecord,
}

/// A column's index in the header.
pub(super) type Column = usize;

impl<'a> CsvTable<'a> {
    /// Reads the header of `text` (the first non-blank line).
    pub(super) fn new(source: &'a Source<'a>, text: &'a str) -> Result<CsvTable<'a>, TraceError> {
        // Flexible, so that a short or long row gets our own message naming its line.
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        let mut lines = LineCounter::default();
        loop {
            if !reader.read_record(&mut record).map_err(|e| csv_error(source, &e))? {
                // Unreachable through parse_trace, which refuses blank files first.
                return Err(TraceError::new(source.name, None, None, "the file is empty"));
            }
            if !is_blank_record(&record) {
                break;
            }
        }
        let header_line = lines.line_of(text, &record);
        let header = record.iter().map(|h| h.trim().to_string()).collect();
        Ok(CsvTable { source, text, reader, lines, header, header_line, record })
    }

    /// The index of column `name`, or an error naming it if the header lacks it.
    pub(super) fn required(&self, name: &str) -> Result<Column, TraceError> {
        self.optional(name)?.ok_or_else(|| {
            let columns = self.header.join(", ");
            self.source.error(
                self.header_line,
                name,
                format!("required column is missing (columns: {columns})"),
            )
        })
    }

    /// The index of column `name`, if the header has it once; an error if it has it twice.
    pub(super) fn optional(&self, name: &str) -> Result<Option<Column>, TraceError> {
        let mut found = self.header.iter().enumerate().filter(|(_, h)| *h == name).map(|(i, _)| i);
        let first = found.next();
        if found.next().is_some() {
            return Err(self.source.error(self.header_line, name, "column appears more than once"));
        }
        Ok(first)
    }

    /// The next non-blank row, or `None` at the end of the file.
    pub(super) fn next_row(&mut self) -> Result<Option<CsvRow<'_>>, TraceError> {
        loop {
            if !self.reader.read_record(&mut self.record).map_err(|e| csv_error(self.source, &e))? {
                return Ok(None);
            }
            if !is_blank_record(&self.record) {
                break;
            }
        }
        let line = self.lines.line_of(self.text, &self.record);
        if self.record.len() != self.header.len() {
            let message =
                format!("the row has {} fields but the header has {}", self.record.len(), self.header.len());
            return Err(self.source.line_error(line, message));
        }
        let end_byte = self.reader.position().byte() as usize;
        Ok(Some(CsvRow { source: self.source, header: &self.header, record: &self.record, line, end_byte }))
    }
}

/// One row of a [`CsvTable`].
pub(super) struct CsvRow<'t> {
    source: &'t Source<'t>,
    header: &'t [String],
    record: &'t csv::StringRecord,
    line: u64,
    end_byte: usize,
}

impl CsvRow<'_> {
    /// The 1-based line where the row starts.
    pub(super) fn line(&self) -> u64 {
        self.line
    }

    /// Bytes of the text up to the end of this row.
    pub(super) fn end_byte(&self) -> usize {
        self.end_byte
    }

    /// Whether the cell in `column` is empty or only spaces.
    pub(super) fn is_blank(&self, column: Column) -> bool {
        self.record.get(column).is_none_or(|s| s.trim().is_empty())
    }

    /// The cell in `column` parsed by `parse`, whose message is placed at this row and column.
    pub(super) fn parse<T>(
        &self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, TraceError> {
        parse(self.record.get(column).unwrap_or(""))
            .map_err(|message| self.source.error(self.line, &self.header[column], message))
    }
}

/// Finds the line each record starts on.
///
/// The csv crate's own line numbers miss skipped blank lines and count CRLF endings oddly, so
/// lines are counted here from its byte offsets, which point at or just before a record. A line
/// ends at LF, CRLF or a lone CR (old Mac files), as the csv crate ends records.
#[derive(Default)]
struct LineCounter {
    /// The byte offset counted up to.
    counted_to: usize,
    /// Line ends before `counted_to`.
    newlines: u64,
}

impl LineCounter {
    /// The line on which `record`, just read from `text`, starts.
    fn line_of(&mut self, text: &str, record: &csv::StringRecord) -> u64 {
        let bytes = text.as_bytes();
        let mut start = record.position().map_or(0, |p| p.byte() as usize).max(self.counted_to);
        // Step over the line ends (of blank lines, or a CRLF's LF) before the record's first byte.
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let segment = &bytes[self.counted_to..start];
        let newlines = segment
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && segment.get(i + 1) != Some(&b'\n')))
            .count();
        self.newlines += newlines as u64;
        self.counted_to = start;
        self.newlines + 1
    }
}

/// A record that is one empty or whitespace-only field: a blank line.
fn is_blank_record(record: &csv::StringRecord) -> bool {
    record.len() == 1 && record[0].trim().is_empty()
}

fn csv_error(source: &Source, error: &csv::Error) -> TraceError {
    let line = error.position().map(csv::Position::line);
    TraceError::new(source.name, line, None, error.to_string())
}
