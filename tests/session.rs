//! The rules of a session, natively: which model is in use, what saving gives, that loading a
//! checkpoint ends a run, when epochs are evaluated, how aborts and callbacks stop a run, and
//! what fine-tuning on the user's examples needs, replaces and keeps.
#![cfg(not(target_arch = "wasm32"))]

use std::{
    cell::{Cell, RefCell},
    future::{Future, poll_fn},
    rc::Rc,
    sync::Arc,
    task::Poll,
    time::Duration,
};

use futures_lite::future::block_on;
use lenet_web::{
    checkpoint::Checkpoint,
    config::TrainingConfig,
    data::{GreyLevels, IMAGE_PIXELS, MnistDataset},
    device::ComputeDevice,
    finetune::{FineTuneConfig, FineTuneProgress},
    session::{
        DeviceLost, EpochReport, ErrorKind, ModelSource, ResumeSettings, RunHooks, RunOptions,
        Session, SessionError, SharedSession, Split, Start,
    },
    training::Progress,
};

/// `n` made-up digits: image `i` is lit from pixel `i % 700` on, labelled `i % 10`.
fn digits(n: usize) -> Arc<MnistDataset> {
    let pixels = (0..n)
        .flat_map(|i| (0..IMAGE_PIXELS).map(move |p| if p >= i % 700 { 200 } else { 0 }))
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Arc::new(MnistDataset::new(pixels, labels).unwrap())
}

/// A session on the CPU with 128 training images (4 steps of 32 per epoch) and, if `test`,
/// 20 test images.
fn session(test: bool) -> SharedSession {
    let mut session = Session::new(ComputeDevice::cpu());
    session.set(Split::Training, digits(128));
    if test {
        session.set(Split::Test, digits(20));
    }
    SharedSession::new(session)
}

fn config(epochs: usize) -> TrainingConfig {
    TrainingConfig {
        epochs,
        batch_size: 32,
        read_every: 2,
        ..Default::default()
    }
}

/// How a run stopped, from the caller's side.
#[derive(Debug, PartialEq)]
enum Stop {
    Aborted,
    Callback(String),
    Session(String),
}

impl From<SessionError> for Stop {
    fn from(e: SessionError) -> Self {
        Stop::Session(e.to_string())
    }
}

/// A caller that records what the run tells it and aborts or pauses where told.
#[derive(Default)]
struct Caller {
    steps: RefCell<Vec<Progress>>,
    epochs: RefCell<Vec<EpochReport>>,
    no_epoch_reports: bool,
    aborted: Cell<bool>,
    /// Aborts in `on_step` of this step.
    abort_at: Option<usize>,
    /// Pauses at this step (its callback's promise never settles) and aborts while paused.
    pause_and_abort_at: Option<usize>,
    /// Aborts in `on_step` of the last step of an epoch, before its evaluation.
    abort_at_epoch_end: bool,
    /// Runs this inside `on_step` of the step given (the first time it is reported).
    during_step: Option<(usize, Box<dyn Fn()>)>,
    /// Runs this after every step of fine-tuning.
    on_fine_tune_step: Option<Box<dyn Fn()>>,
}

impl RunHooks for Caller {
    type Error = Stop;

    fn aborted(&self) -> Option<Stop> {
        self.aborted.get().then_some(Stop::Aborted)
    }

    fn abort(&self) -> impl Future<Output = Stop> {
        poll_fn(|_| {
            if self.aborted.get() {
                Poll::Ready(Stop::Aborted)
            } else {
                Poll::Pending
            }
        })
    }

    fn on_step(&self, progress: &Progress) -> impl Future<Output = Result<(), Stop>> {
        let first_time = self.steps.borrow().iter().all(|p| p.step != progress.step);
        self.steps.borrow_mut().push(progress.clone());
        if let Some((step, during)) = &self.during_step
            && *step == progress.step
            && first_time
        {
            during();
        }
        let abort = Some(progress.step) == self.abort_at
            || (self.abort_at_epoch_end && progress.epoch_done);
        let pause = Some(progress.step) == self.pause_and_abort_at;
        if abort || pause {
            self.aborted.set(true);
        }
        let mut polls = 0;
        poll_fn(move |cx| {
            polls += 1;
            if pause && polls == 1 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else if pause {
                Poll::Ready(Err(Stop::Callback(
                    "the paused callback was not cut short".into(),
                )))
            } else {
                Poll::Ready(Ok(()))
            }
        })
    }

    async fn on_fine_tune_step(&self, _: &FineTuneProgress) -> Result<(), Stop> {
        if let Some(during) = &self.on_fine_tune_step {
            during();
        }
        Ok(())
    }

    fn wants_epoch_reports(&self) -> bool {
        !self.no_epoch_reports
    }

    async fn on_epoch(&self, report: &EpochReport) -> Result<(), Stop> {
        self.epochs.borrow_mut().push(report.clone());
        Ok(())
    }

    async fn yield_now(&self) -> Result<(), Stop> {
        Ok(())
    }
}

fn train(session: &SharedSession, start: Start, caller: &Caller) -> Result<usize, Stop> {
    block_on(session.train(start, RunOptions::default(), caller)).map(|p| p.step)
}

/// What saving `session` gives now.
fn checkpoint_of(session: &SharedSession) -> Result<Checkpoint, SessionError> {
    block_on(async { session.lock().await.checkpoint().await })
}

fn probabilities(session: &SharedSession) -> [f32; 10] {
    block_on(async { session.lock().await.predict(&[0.5; IMAGE_PIXELS]).await }).unwrap()
}

/// Which model `session` says it uses, and in words.
fn in_use(session: &SharedSession) -> (ModelSource, String) {
    let model = block_on(session.lock()).model_in_use();
    (model.source, model.description)
}

#[test]
fn the_model_in_use_is_the_run_then_the_checkpoint_loaded() {
    let session = session(false);
    let fresh = probabilities(&session);
    assert_eq!(
        in_use(&session),
        (ModelSource::Fresh, "a fresh model, untrained".into())
    );
    let caller = Caller {
        abort_at: Some(3),
        ..Default::default()
    };
    assert_eq!(
        train(&session, Start::New(config(1)), &caller),
        Err(Stop::Aborted)
    );
    assert_eq!(
        in_use(&session),
        (
            ModelSource::Run,
            "the run's model after 3 of 4 steps".into()
        )
    );
    assert_eq!(
        train(&session, Start::New(config(1)), &Caller::default()),
        Ok(4)
    );
    let trained = probabilities(&session);
    assert_ne!(trained, fresh, "the run's model answers");
    assert_eq!(
        in_use(&session),
        (
            ModelSource::Run,
            "the run's model, trained for 1 epoch".into()
        )
    );
    // The layers it shows are those of the model in use: the last is its prediction.
    let layers =
        block_on(async { session.lock().await.activations(&[0.5; IMAGE_PIXELS]).await }).unwrap();
    assert_eq!(layers.last().unwrap().values, trained);

    let saved = checkpoint_of(&session).unwrap().to_bytes();
    assert_eq!(
        train(&session, Start::New(config(2)), &Caller::default()),
        Ok(8)
    );
    let info = block_on(session.lock()).load_checkpoint(&saved).unwrap();
    assert_eq!(
        (info.state.step, info.total_steps, info.finished),
        (4, 4, true)
    );
    assert_eq!(probabilities(&session), trained, "the loaded model answers");
    assert_eq!(
        in_use(&session),
        (
            ModelSource::Loaded,
            "the loaded model, trained for 1 epoch".into()
        )
    );
    // The loaded checkpoint is what saving gives now.
    let again = checkpoint_of(&session).unwrap();
    assert_eq!(again.to_bytes(), saved);

    // Without the optimizer's state: smaller, and the same model.
    let shipped = again.without_optimizer().to_bytes();
    assert!(
        shipped.len() < saved.len() / 2,
        "{} of {}",
        shipped.len(),
        saved.len()
    );
    let info = block_on(session.lock()).load_checkpoint(&shipped).unwrap();
    assert!(!info.has_optimizer);
    assert_eq!(probabilities(&session), trained);
}

#[test]
fn saving_needs_a_model_and_a_bad_checkpoint_changes_nothing() {
    let session = session(false);
    let err = checkpoint_of(&session).unwrap_err();
    assert_eq!(err.to_string(), "train or load a model before saving it");
    let fresh = probabilities(&session);
    let err = block_on(session.lock())
        .load_checkpoint(b"not a checkpoint")
        .unwrap_err();
    assert_eq!(err.to_string(), "this is not a LeNet-5 checkpoint file");
    assert_eq!(probabilities(&session), fresh);
}

#[test]
fn loading_a_checkpoint_ends_the_run() {
    let session = Rc::new(session(false));
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    let saved = checkpoint_of(&session).unwrap().to_bytes();
    let inner = session.clone();
    let caller = Caller {
        during_step: Some((
            1,
            Box::new(move || {
                block_on(inner.lock()).load_checkpoint(&saved).unwrap();
            }),
        )),
        ..Default::default()
    };
    assert_eq!(
        train(&session, Start::New(config(2)), &caller),
        Err(Stop::Session(
            "the training run was replaced by a loaded checkpoint".into()
        ))
    );
    assert_eq!(caller.steps.borrow().len(), 1);
}

#[test]
fn epochs_are_evaluated_when_a_test_set_is_loaded_unless_told() {
    let evaluated = |test: bool, evaluate: Option<bool>| {
        let session = session(test);
        let caller = Caller::default();
        let options = RunOptions {
            evaluate_each_epoch: evaluate,
            ..Default::default()
        };
        block_on(session.train(Start::New(config(2)), options, &caller)).unwrap();
        let epochs = caller.epochs.borrow();
        assert_eq!(epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2]);
        epochs
            .iter()
            .map(|e| e.evaluation.is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(evaluated(true, None), [true, true]);
    assert_eq!(evaluated(false, None), [false, false]);
    assert_eq!(evaluated(true, Some(false)), [false, false]);
    let session = session(false);
    let options = RunOptions {
        evaluate_each_epoch: Some(true),
        ..Default::default()
    };
    let result = block_on(session.train(Start::New(config(1)), options, &Caller::default()));
    assert_eq!(
        result.unwrap_err(),
        Stop::Session("load the test set before evaluating".into())
    );
}

#[test]
fn an_abort_stops_the_run_between_steps_keeping_its_weights() {
    let session = session(false);
    let caller = Caller {
        abort_at: Some(3),
        ..Default::default()
    };
    assert_eq!(
        train(&session, Start::New(config(2)), &caller),
        Err(Stop::Aborted)
    );
    assert_eq!(caller.steps.borrow().len(), 3);
    let position = block_on(session.lock()).position().unwrap();
    assert_eq!(position.step, 3);
}

#[test]
fn an_abort_cuts_short_a_paused_run() {
    let session = session(false);
    let caller = Caller {
        pause_and_abort_at: Some(2),
        ..Default::default()
    };
    assert_eq!(
        train(&session, Start::New(config(1)), &caller),
        Err(Stop::Aborted)
    );
}

#[test]
fn an_abort_during_the_end_of_an_epoch_stops_the_run() {
    let session = session(true);
    let caller = Caller {
        abort_at_epoch_end: true,
        ..Default::default()
    };
    assert_eq!(
        train(&session, Start::New(config(1)), &caller),
        Err(Stop::Aborted)
    );
    assert!(
        caller.epochs.borrow().is_empty(),
        "no report after the abort"
    );
}

#[test]
fn one_run_at_a_time() {
    let session = Rc::new(session(false));
    let inner = session.clone();
    let second = Rc::new(RefCell::new(None));
    let seen = second.clone();
    let caller = Caller {
        during_step: Some((
            1,
            Box::new(move || {
                let result = block_on(inner.train(
                    Start::New(config(1)),
                    RunOptions::default(),
                    &Caller::default(),
                ));
                *seen.borrow_mut() = Some(result.map(|p| p.step));
            }),
        )),
        ..Default::default()
    };
    assert_eq!(train(&session, Start::New(config(1)), &caller), Ok(4));
    assert_eq!(
        second.borrow_mut().take(),
        Some(Err(Stop::Session(
            "this model is already training: abort that run (its signal) first".into()
        )))
    );
    // Once the run is over, another may start.
    assert_eq!(
        train(&session, Start::New(config(1)), &Caller::default()),
        Ok(4)
    );
}

#[test]
fn a_limit_is_a_whole_number_of_images() {
    for bad in [0.0, -3.0, f64::NAN, 2.5, f64::INFINITY] {
        let err = RunOptions::new(Some(bad), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid run options: limit must be a whole number of training images, at least 1, not {bad}"
            )
        );
    }
    let options = RunOptions::new(Some(64.0), Some(false)).unwrap();
    assert_eq!(
        (options.limit, options.evaluate_each_epoch),
        (Some(64), Some(false))
    );

    let session = session(false);
    let caller = Caller::default();
    block_on(session.train(Start::New(config(1)), options, &caller)).unwrap();
    assert_eq!(
        caller.steps.borrow()[0].steps_per_epoch,
        2,
        "64 images in batches of 32"
    );
}

#[test]
fn resuming_needs_a_checkpoint_and_goes_on_from_it() {
    let session = session(false);
    let err = train(
        &session,
        Start::Resume(ResumeSettings::default()),
        &Caller::default(),
    );
    assert_eq!(
        err,
        Err(Stop::Session("load a checkpoint before resuming".into()))
    );

    let caller = Caller {
        abort_at: Some(2),
        ..Default::default()
    };
    train(&session, Start::New(config(2)), &caller).unwrap_err();
    let saved = checkpoint_of(&session).unwrap().to_bytes();
    block_on(session.lock()).load_checkpoint(&saved).unwrap();
    let caller = Caller::default();
    let resume = Start::Resume(ResumeSettings { epochs: Some(3) });
    assert_eq!(train(&session, resume, &caller), Ok(12));
    assert_eq!(caller.steps.borrow()[0].step, 3);
}

#[test]
fn a_backend_change_keeps_the_data_the_model_and_the_run() {
    let session = session(true);
    let caller = Caller {
        abort_at: Some(2),
        ..Default::default()
    };
    train(&session, Start::New(config(1)), &caller).unwrap_err();
    let before = probabilities(&session);
    block_on(session.move_to(ComputeDevice::cpu())).unwrap();
    let counts = block_on(session.lock()).counts().unwrap();
    assert_eq!((counts.train_count, counts.test_count), (128, Some(20)));
    assert_eq!(probabilities(&session), before);
    // The run goes on from where it was.
    let caller = Caller::default();
    assert_eq!(
        train(&session, Start::Resume(ResumeSettings::default()), &caller),
        Ok(4)
    );
    assert_eq!(caller.steps.borrow()[0].step, 3);
}

#[test]
fn test_images_are_handed_out_by_index() {
    let session = session(true);
    let guard = block_on(session.lock());
    assert_eq!(guard.test_image(3).unwrap(), digits(20).image(3));
    assert_eq!(
        guard.test_image(20).unwrap_err().to_string(),
        "there is no test image 20: the test set has 20 (0 to 19)"
    );
}

#[test]
fn a_split_that_cannot_be_read_says_which() {
    let err = Session::parse(Split::Test, b"", b"").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the test set could not be loaded: "),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Dataset);
    let err = Session::from_arrays(Split::Training, GreyLevels::Bytes(vec![0; 784]), &[12.0])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the training set could not be loaded: label 12 at position 0 is not a digit 0-9"
    );
}

#[test]
fn each_failure_has_its_kind() {
    let session = session(false);
    let kind = |e: SessionError| e.kind().name();
    let no_model = checkpoint_of(&session).unwrap_err();
    assert_eq!(kind(no_model), "CheckpointError");
    let not_a_checkpoint = block_on(session.lock()).load_checkpoint(b"x").unwrap_err();
    assert_eq!(kind(not_a_checkpoint), "CheckpointError");
    let bad_image = block_on(async { session.lock().await.predict(&[0.0; 3]).await }).unwrap_err();
    assert_eq!(kind(bad_image), "DrawingError");
    let bad_limit = RunOptions::new(Some(0.5), None).unwrap_err();
    assert_eq!(kind(bad_limit), "SettingsError");
    let bad_settings = TrainingConfig {
        batch_size: 0,
        ..config(1)
    };
    let mut alone = Session::new(ComputeDevice::cpu());
    alone.set(Split::Training, digits(128));
    let err = alone.start(Start::New(bad_settings), None).unwrap_err();
    assert_eq!(kind(err), "SettingsError");
    let no_data = Session::new(ComputeDevice::cpu())
        .start(Start::New(config(1)), None)
        .unwrap_err();
    assert_eq!(kind(no_data), "DatasetError");
}

/// A session on the CPU as one on a GPU is, whose device can be lost, but copying its runs into
/// memory at every read-back of the loss (instead of every 5 s); it tells `told` when it loses
/// its device.
fn losable_session(told: &Rc<RefCell<Vec<DeviceLost>>>) -> Rc<SharedSession> {
    let mut session = Session::new(ComputeDevice::cpu());
    session.set(Split::Training, digits(128));
    session.keep_copies(Duration::ZERO);
    let told = told.clone();
    Rc::new(
        SharedSession::new(session)
            .on_device_lost(move |lost| told.borrow_mut().push(lost.clone())),
    )
}

/// A caller during whose step `step` the device of `session` is lost, `message` saying why.
fn losing_the_device_at(step: usize, session: &Rc<SharedSession>, message: &'static str) -> Caller {
    let session = session.clone();
    Caller {
        during_step: Some((
            step,
            Box::new(move || {
                let lost = block_on(session.device_lost(message)).unwrap();
                assert!(lost.is_some());
            }),
        )),
        ..Default::default()
    }
}

fn assert_close(a: [f32; 10], b: [f32; 10]) {
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-5, "{a:?} vs {b:?}");
    }
}

/// Asserts that `session` predicts as a run of `epochs` that never lost its device.
fn assert_ends_as_the_uninterrupted_run(session: &SharedSession, epochs: usize) {
    let whole = crate::session(false);
    train(&whole, Start::New(config(epochs)), &Caller::default()).unwrap();
    assert_close(probabilities(session), probabilities(&whole));
}

#[test]
fn a_run_whose_device_is_lost_goes_on_on_the_cpu_from_its_last_copy() {
    let told = Rc::new(RefCell::new(Vec::new()));
    let session = losable_session(&told);
    let caller = losing_the_device_at(3, &session, "the GPU was unplugged");
    // The run resolves as usual.
    assert_eq!(train(&session, Start::New(config(2)), &caller), Ok(8));
    // Told once, with the step it went back to: the copy made at step 2's read-back.
    assert_eq!(
        *told.borrow(),
        [DeviceLost {
            message: "the GPU was unplugged".into(),
            step: Some(2),
        }]
    );
    let steps: Vec<usize> = caller.steps.borrow().iter().map(|p| p.step).collect();
    assert_eq!(steps, [1, 2, 3, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        session.compute().fallback_reason.as_deref(),
        Some("the GPU device was lost: the GPU was unplugged")
    );
    assert_ends_as_the_uninterrupted_run(&session, 2);
    // On the CPU now, whose device is not lost: a second report changes nothing.
    assert_eq!(block_on(session.device_lost("again")).unwrap(), None);
    assert_eq!(told.borrow().len(), 1);
}

#[test]
fn a_run_lost_before_its_first_copy_starts_again_on_the_cpu() {
    let told = Rc::new(RefCell::new(Vec::new()));
    let session = losable_session(&told);
    let caller = losing_the_device_at(1, &session, "reset");
    assert_eq!(train(&session, Start::New(config(1)), &caller), Ok(4));
    assert_eq!(told.borrow()[0].step, Some(0));
    let steps: Vec<usize> = caller.steps.borrow().iter().map(|p| p.step).collect();
    assert_eq!(steps, [1, 1, 2, 3, 4]);
    assert_ends_as_the_uninterrupted_run(&session, 1);
}

#[test]
fn a_device_lost_between_runs_keeps_the_model_in_use() {
    let told = Rc::new(RefCell::new(Vec::new()));
    let session = losable_session(&told);
    // No run: the fresh model stays.
    let fresh = probabilities(&session);
    let lost = block_on(session.device_lost("reclaimed")).unwrap().unwrap();
    assert_eq!(lost.step, None);
    assert_eq!(probabilities(&session), fresh);

    // A run stopped by an abort: its last state, copied when it stopped.
    let told = Rc::new(RefCell::new(Vec::new()));
    let session = losable_session(&told);
    let caller = Caller {
        abort_at: Some(3),
        ..Default::default()
    };
    train(&session, Start::New(config(1)), &caller).unwrap_err();
    let stopped = probabilities(&session);
    let lost = block_on(session.device_lost("reclaimed")).unwrap().unwrap();
    assert_eq!(lost.step, Some(3));
    assert_close(probabilities(&session), stopped);
    // It can be saved, and resumed, on the CPU.
    let saved = checkpoint_of(&session).unwrap();
    assert_eq!(saved.info().state.step, 3);
}

/// A few quick steps of fine-tuning.
fn quick() -> FineTuneConfig {
    FineTuneConfig {
        steps: 3,
        batch_size: 8,
        examples_per_batch: 4,
        ..Default::default()
    }
}

fn fine_tune(session: &SharedSession, caller: &Caller) -> Result<usize, Stop> {
    block_on(session.fine_tune(quick(), caller)).map(|report| report.steps)
}

/// Adds `n` made-up examples (the first of `digits`) to `session`.
fn add_examples(session: &SharedSession, n: usize) -> usize {
    let made_up = digits(n);
    let pixels = (0..n).flat_map(|i| made_up.image(i).to_vec()).collect();
    let labels: Vec<f64> = (0..n).map(|i| f64::from(made_up.label(i))).collect();
    block_on(session.lock())
        .add_examples(GreyLevels::Bytes(pixels), &labels)
        .unwrap()
}

#[test]
fn fine_tuning_needs_a_model_and_examples_and_is_undone() {
    let session = session(false);
    assert_eq!(
        fine_tune(&session, &Caller::default()),
        Err(Stop::Session(
            "train or load a model before fine-tuning it".into()
        ))
    );
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    let trained = probabilities(&session);
    let err = fine_tune(&session, &Caller::default()).unwrap_err();
    assert!(format!("{err:?}").contains("add examples"), "{err:?}");

    assert_eq!(add_examples(&session, 12), 12);
    assert_eq!(fine_tune(&session, &Caller::default()), Ok(3));
    let tuned = probabilities(&session);
    assert_ne!(tuned, trained, "the fine-tuned model answers");
    assert!(block_on(session.lock()).is_fine_tuned());
    assert_eq!(
        in_use(&session).1,
        "the run's model, trained for 1 epoch, fine-tuned on your examples"
    );
    // One step at a time, with the run's hooks; an abort leaves the model as it was.
    let caller = Caller {
        aborted: Cell::new(true),
        ..Default::default()
    };
    assert_eq!(fine_tune(&session, &caller), Err(Stop::Aborted));
    assert_eq!(probabilities(&session), tuned);

    assert!(block_on(session.lock()).undo_fine_tuning());
    assert_eq!(
        probabilities(&session),
        trained,
        "Undo: the run's model again"
    );
}

#[test]
fn fine_tuning_is_saved_and_ends_with_a_new_run_but_the_examples_stay() {
    let session = session(false);
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    add_examples(&session, 5);
    fine_tune(&session, &Caller::default()).unwrap();
    let tuned = probabilities(&session);
    let saved = checkpoint_of(&session).unwrap();
    assert_eq!((saved.info().examples, saved.info().fine_tuned), (5, true));
    let saved = saved.to_bytes();

    // A new run: its own model answers; the examples stay.
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    assert!(!block_on(session.lock()).is_fine_tuned());
    assert_eq!(block_on(session.lock()).examples().len(), 5);

    // Loading the save brings back the fine-tuned model and its examples; one without examples
    // keeps those the session holds.
    block_on(session.lock()).clear_examples();
    let info = block_on(session.lock()).load_checkpoint(&saved).unwrap();
    assert_eq!((info.examples, info.fine_tuned), (5, true));
    assert_eq!(probabilities(&session), tuned);
    let plain = checkpoint_of(&session).unwrap();
    let mut plain = Checkpoint::from_bytes(&plain.to_bytes()).unwrap();
    plain.examples = Default::default();
    plain.fine_tuned = None;
    let info = block_on(session.lock())
        .load_checkpoint(&plain.to_bytes())
        .unwrap();
    assert_eq!((info.examples, info.fine_tuned), (5, false));
}

#[test]
fn a_checkpoint_loaded_while_fine_tuning_wins() {
    let session = Rc::new(session(false));
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    let saved = checkpoint_of(&session).unwrap().to_bytes();
    add_examples(&session, 5);
    let loader = session.clone();
    let caller = Caller {
        on_fine_tune_step: Some(Box::new(move || {
            block_on(loader.lock()).load_checkpoint(&saved).unwrap();
        })),
        ..Default::default()
    };
    assert_eq!(
        fine_tune(&session, &caller),
        Err(Stop::Session(
            "the model was replaced while fine-tuning (a checkpoint was loaded, or the GPU device was lost): fine-tune again".into()
        ))
    );
    assert!(!block_on(session.lock()).is_fine_tuned());
}

#[test]
fn a_fine_tuned_model_survives_the_loss_of_its_device() {
    let told = Rc::new(RefCell::new(Vec::new()));
    let session = losable_session(&told);
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    add_examples(&session, 5);
    fine_tune(&session, &Caller::default()).unwrap();
    let tuned = probabilities(&session);
    block_on(session.device_lost("reclaimed")).unwrap().unwrap();
    assert!(block_on(session.lock()).is_fine_tuned());
    assert_close(probabilities(&session), tuned);
}

#[test]
fn a_session_whose_device_cannot_be_lost_ignores_a_report() {
    let session = session(false);
    train(&session, Start::New(config(1)), &Caller::default()).unwrap();
    let before = probabilities(&session);
    assert_eq!(block_on(session.device_lost("no GPU here")).unwrap(), None);
    assert_eq!(probabilities(&session), before);
    assert_eq!(session.compute().fallback_reason, None);
}
