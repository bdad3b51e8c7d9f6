//! The IDX file format of MNIST (<http://yann.lecun.com/exdb/mnist/>), parsed with every header
//! field checked so that a truncated, corrupt or mismatched file gives a typed error, never a
//! panic or a silent wrong answer.
//!
//! An IDX file is a big-endian header, then the data:
//! - bytes 0-1: zero; byte 2: the element type (0x08 = unsigned byte); byte 3: the number of
//!   dimensions;
//! - one big-endian `u32` per dimension;
//! - the elements, row-major.
//!
//! MNIST images are `0x00000803` (3 dimensions: count, rows, columns) and labels `0x00000801`
//! (1 dimension: count).

use thiserror::Error;

/// Magic number of an IDX file of unsigned bytes with three dimensions (MNIST images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (MNIST labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Why an IDX file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdxError {
    /// The file has no bytes at all.
    #[error("the {kind} file is empty")]
    Empty { kind: &'static str },
    /// The file ends inside its header.
    #[error(
        "the {kind} file is too short for an IDX header: {len} bytes, the header needs {needed}"
    )]
    TruncatedHeader {
        kind: &'static str,
        len: usize,
        needed: usize,
    },
    /// The first four bytes are not the magic number of this kind of file.
    #[error(
        "the {kind} file does not start with the IDX magic number {expected:#010x} (found {found:#010x}): is it the right file, and was it un-gzipped?"
    )]
    BadMagic {
        kind: &'static str,
        expected: u32,
        found: u32,
    },
    /// The header promises more or fewer bytes than the file holds.
    #[error(
        "the {kind} file should hold {expected} bytes after its header but holds {found}: it is truncated or corrupt"
    )]
    WrongLength {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    /// The header's dimensions overflow what this machine can address.
    #[error("the {kind} file's header declares dimensions too large to be real")]
    ImpossibleDimensions { kind: &'static str },
}

/// Images of one IDX file: `count` images of `rows` x `cols` grey levels (0 = background,
/// 255 = ink), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Parses an IDX file of images (`0x00000803`).
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, IdxError> {
    const KIND: &str = "images";
    let dims = parse_header::<3>(bytes, IMAGES_MAGIC, KIND)?;
    let [count, rows, cols] = dims;
    let body = body(bytes, &dims, KIND)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: body.to_vec(),
    })
}

/// Parses an IDX file of labels (`0x00000801`).
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    const KIND: &str = "labels";
    let dims = parse_header::<1>(bytes, LABELS_MAGIC, KIND)?;
    Ok(body(bytes, &dims, KIND)?.to_vec())
}

fn header_len(dims: usize) -> usize {
    4 + 4 * dims
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks the magic number and returns the `D` dimensions of the header.
fn parse_header<const D: usize>(
    bytes: &[u8],
    magic: u32,
    kind: &'static str,
) -> Result<[usize; D], IdxError> {
    let needed = header_len(D);
    if bytes.is_empty() {
        return Err(IdxError::Empty { kind });
    }
    if bytes.len() < 4 {
        return Err(IdxError::TruncatedHeader {
            kind,
            len: bytes.len(),
            needed,
        });
    }
    let found = read_u32(bytes, 0);
    if found != magic {
        return Err(IdxError::BadMagic {
            kind,
            expected: magic,
            found,
        });
    }
    if bytes.len() < needed {
        return Err(IdxError::TruncatedHeader {
            kind,
            len: bytes.len(),
            needed,
        });
    }
    let mut dims = [0usize; D];
    for (i, dim) in dims.iter_mut().enumerate() {
        *dim = read_u32(bytes, 4 + 4 * i) as usize;
    }
    Ok(dims)
}

/// The data after the header, checked to be exactly as long as the dimensions say.
fn body<'a>(bytes: &'a [u8], dims: &[usize], kind: &'static str) -> Result<&'a [u8], IdxError> {
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(IdxError::ImpossibleDimensions { kind })?;
    let body = &bytes[header_len(dims.len())..];
    if body.len() != expected {
        return Err(IdxError::WrongLength {
            kind,
            expected,
            found: body.len(),
        });
    }
    Ok(body)
}

/// Writes an IDX file: the magic number, the big-endian dimensions, then `body` as it is.
/// The inverse of the parsers, for fixtures and for tests of damaged files.
pub fn encode(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::{encode as idx, *};

    #[test]
    fn parses_images_row_major() {
        let file = idx(
            IMAGES_MAGIC,
            &[2, 2, 3],
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        );
        let images = parse_images(&file).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 2, 3));
        assert_eq!(images.pixels, (0..12).collect::<Vec<u8>>());
    }

    #[test]
    fn parses_labels() {
        let file = idx(LABELS_MAGIC, &[3], &[7, 2, 1]);
        assert_eq!(parse_labels(&file).unwrap(), vec![7, 2, 1]);
    }

    #[test]
    fn empty_file_says_so() {
        assert_eq!(parse_labels(&[]), Err(IdxError::Empty { kind: "labels" }));
        assert_eq!(
            parse_images(&[]).unwrap_err().to_string(),
            "the images file is empty"
        );
    }

    #[test]
    fn header_cut_after_the_magic_number_is_truncated() {
        let file = idx(IMAGES_MAGIC, &[1, 28], &[]);
        assert!(matches!(
            parse_images(&file),
            Err(IdxError::TruncatedHeader { needed: 16, .. })
        ));
    }

    #[test]
    fn labels_file_given_as_images_is_a_bad_magic() {
        let file = idx(LABELS_MAGIC, &[1], &[3]);
        assert_eq!(
            parse_images(&file),
            Err(IdxError::BadMagic {
                kind: "images",
                expected: IMAGES_MAGIC,
                found: LABELS_MAGIC
            })
        );
    }

    #[test]
    fn gzip_stream_is_a_bad_magic() {
        let gzip_header = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            parse_labels(&gzip_header),
            Err(IdxError::BadMagic { .. })
        ));
    }

    #[test]
    fn truncated_body_is_rejected() {
        let file = idx(IMAGES_MAGIC, &[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            parse_images(&file),
            Err(IdxError::WrongLength {
                kind: "images",
                expected: 8,
                found: 7
            })
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let file = idx(LABELS_MAGIC, &[2], &[1, 2, 3]);
        assert!(matches!(
            parse_labels(&file),
            Err(IdxError::WrongLength {
                expected: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn huge_dimensions_do_not_allocate_or_panic() {
        let file = idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[0; 16]);
        assert!(parse_images(&file).is_err());
    }
}
