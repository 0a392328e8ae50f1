//! Several frames in one session run, for models whose batch dimension
//! (dim 0) is dynamic: each frame's input tensor packed into its slot of
//! one batch tensor, and each output split back per frame into the batch-1
//! shape the layouts' decoders take.

use super::input::InputTensor;
use super::DecodeError;

/// Frames' input tensors one after the other along dim 0, reused from run
/// to run (it grows to the largest batch and keeps that size).
#[derive(Debug, Default)]
pub struct BatchTensor {
    tensor: Option<InputTensor>,
    frames: usize,
}

impl BatchTensor {
    /// Start a batch of `frames` frames shaped like `like` (one frame).
    pub fn start(&mut self, frames: usize, like: &InputTensor) {
        let len = frames * like.len();
        let fits = matches!(
            (&self.tensor, like),
            (Some(InputTensor::F32(_)), InputTensor::F32(_))
                | (Some(InputTensor::U8(_)), InputTensor::U8(_))
        );
        if !fits {
            self.tensor = Some(match like {
                InputTensor::F32(_) => InputTensor::F32(Vec::new()),
                InputTensor::U8(_) => InputTensor::U8(Vec::new()),
            });
        }
        match &mut self.tensor {
            Some(InputTensor::F32(t)) => t.resize(len, 0.0),
            Some(InputTensor::U8(t)) => t.resize(len, 0),
            None => {}
        }
        self.frames = frames;
    }

    /// Copy frame `i`'s tensor (as [`start`](Self::start) was told its
    /// shape) into its slot.
    pub fn put(&mut self, i: usize, frame: &InputTensor) {
        let n = frame.len();
        match (&mut self.tensor, frame) {
            (Some(InputTensor::F32(t)), InputTensor::F32(f)) => {
                t[i * n..(i + 1) * n].copy_from_slice(f)
            }
            (Some(InputTensor::U8(t)), InputTensor::U8(f)) => {
                t[i * n..(i + 1) * n].copy_from_slice(f)
            }
            _ => {}
        }
    }

    /// The whole batch (`None` before the first [`start`](Self::start)).
    pub fn tensor(&self) -> Option<&InputTensor> {
        self.tensor.as_ref()
    }

    pub fn frames(&self) -> usize {
        self.frames
    }
}

impl InputTensor {
    /// Elements in the tensor.
    pub fn len(&self) -> usize {
        match self {
            InputTensor::F32(t) => t.len(),
            InputTensor::U8(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One frame's part of an output: its shape with dim 0 = 1, and its values.
pub type FrameOutput<'a> = (Vec<i64>, &'a [f32]);

/// An output of shape `[frames, ...]` split into `frames` batch-1 parts,
/// in order; an error when its dim 0 or its length is not the batch's.
pub fn split_output<'a>(
    shape: &[i64],
    values: &'a [f32],
    frames: usize,
) -> Result<Vec<FrameOutput<'a>>, DecodeError> {
    let bad = || DecodeError::Shape(shape.to_vec());
    let (&first, rest) = shape.split_first().ok_or_else(bad)?;
    let per: i64 = rest.iter().product();
    if first != frames as i64 || per < 0 || values.len() != frames * per as usize {
        return Err(bad());
    }
    let one: Vec<i64> = std::iter::once(1).chain(rest.iter().copied()).collect();
    let per = per as usize;
    Ok((0..frames)
        .map(|i| (one.clone(), &values[i * per..(i + 1) * per]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_go_to_their_slots_and_the_tensor_is_reused() {
        let mut b = BatchTensor::default();
        b.start(3, &InputTensor::F32(vec![0.0; 2]));
        for i in 0..3 {
            b.put(i, &InputTensor::F32(vec![i as f32, 10.0 + i as f32]));
        }
        let Some(InputTensor::F32(t)) = b.tensor() else {
            panic!("a float batch")
        };
        assert_eq!(t, &[0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        b.start(2, &InputTensor::F32(vec![0.0; 2]));
        assert_eq!((b.frames(), b.tensor().map(InputTensor::len)), (2, Some(4)));
        b.start(1, &InputTensor::U8(vec![0; 3]));
        b.put(0, &InputTensor::U8(vec![1, 2, 3]));
        assert!(matches!(b.tensor(), Some(InputTensor::U8(t)) if t == &[1, 2, 3]));
    }

    #[test]
    fn outputs_split_per_frame_in_batch_1_shapes() {
        let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let parts = split_output(&[3, 2, 2], &values, 3).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].0, vec![1, 2, 2]);
        assert_eq!(parts[1].1, &[4.0, 5.0, 6.0, 7.0]);
        assert_eq!(parts[2].1, &[8.0, 9.0, 10.0, 11.0]);
        // A rank-1 output (a count per frame).
        let parts = split_output(&[2], &[5.0, 6.0], 2).unwrap();
        assert_eq!((parts[0].0.clone(), parts[1].1), (vec![1], &[6.0][..]));
        // Zero rows per frame.
        let parts = split_output(&[2, 0, 6], &[], 2).unwrap();
        assert!(parts.iter().all(|p| p.1.is_empty() && p.0 == vec![1, 0, 6]));
    }

    #[test]
    fn an_output_of_another_batch_is_an_error() {
        let v = [0.0; 8];
        assert_eq!(
            split_output(&[2, 4], &v, 3),
            Err(DecodeError::Shape(vec![2, 4]))
        );
        assert!(
            split_output(&[2, 3], &v, 2).is_err(),
            "8 values are not 2 x 3"
        );
        assert!(split_output(&[], &v, 1).is_err());
    }
}
