//! `lenet-train`: trains LeNet-5 on MNIST natively, with the browser's trainer, settings and
//! checkpoint format, on the CPU or on GPUs (cargo features `wgpu`, `cuda`), on one device or
//! data-parallel on several. `make train` runs it; `lenet-train --help` lists the options.
//!
//! A progress bar shows the loss, accuracy, images/s and time left; each epoch ends with the
//! test accuracy and a checkpoint saved to `--out`. Ctrl-C saves the last step and stops (a
//! second Ctrl-C stops at once); `--resume` goes on from a checkpoint, the page's included.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::{
        path::PathBuf,
        process::ExitCode,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        time::Instant,
    };

    use clap::Parser;
    use indicatif::{ProgressBar, ProgressStyle};
    use lenet_web::{
        config::TrainingConfig,
        device::NativeBackend,
        native::{Event, NativeError, NativeRun, Outcome, load_mnist, read_checkpoint},
        training::Trainer,
    };
    use serde::de::DeserializeOwned;

    /// Train LeNet-5 on MNIST natively: the browser's trainer and checkpoints, on the CPU or
    /// on GPUs, on one device or data-parallel on several. Settings not given are the page's
    /// defaults; a resumed run keeps its own.
    #[derive(Parser)]
    #[command(name = "lenet-train", version)]
    struct Args {
        /// The folder with the MNIST files (as `make data` writes them, gzipped or not).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Where the run is saved after every epoch and when stopped [default: the --resume
        /// file, else lenet5-mnist.ckpt].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Goes on with the run saved in this checkpoint (a page's download too).
        #[arg(long)]
        resume: Option<PathBuf>,
        /// cpu, wgpu (Vulkan, Metal, DX12) or cuda.
        #[arg(long, default_value = "cpu")]
        backend: NativeBackend,
        /// Devices to train on, data-parallel: each takes its shard of every batch.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        devices: u16,
        /// Trains on the first N training images only (a run resumes on as many).
        #[arg(long)]
        limit: Option<usize>,
        /// Epochs in all (a resumed run: the total it goes up to).
        #[arg(long)]
        epochs: Option<usize>,
        #[arg(long)]
        batch_size: Option<usize>,
        #[arg(long)]
        learning_rate: Option<f64>,
        /// adam or sgd.
        #[arg(long, value_parser = named::<lenet_web::optimizer::OptimizerKind>)]
        optimizer: Option<lenet_web::optimizer::OptimizerKind>,
        /// oneCycle or constant.
        #[arg(long, value_parser = named::<lenet_web::schedule::Schedule>)]
        schedule: Option<lenet_web::schedule::Schedule>,
        /// none, shift or affine.
        #[arg(long, value_parser = named::<lenet_web::data::Augmentation>)]
        augmentation: Option<lenet_web::data::Augmentation>,
        #[arg(long)]
        seed: Option<u64>,
    }

    /// A setting's value by the name the page and the package use for it.
    fn named<T: DeserializeOwned>(name: &str) -> Result<T, String> {
        serde_json::from_value(serde_json::Value::String(name.to_owned()))
            .map_err(|e| e.to_string())
    }

    impl Args {
        /// True when a setting was given that a resumed run takes from its checkpoint.
        fn sets_the_run(&self) -> bool {
            self.batch_size.is_some()
                || self.learning_rate.is_some()
                || self.optimizer.is_some()
                || self.schedule.is_some()
                || self.augmentation.is_some()
                || self.seed.is_some()
        }

        /// The page's defaults (for the optimizer chosen), with what was given.
        fn config(&self) -> TrainingConfig {
            let defaults = TrainingConfig::for_optimizer(self.optimizer.unwrap_or_default());
            TrainingConfig {
                epochs: self.epochs.unwrap_or(defaults.epochs),
                batch_size: self.batch_size.unwrap_or(defaults.batch_size),
                learning_rate: self.learning_rate.unwrap_or(defaults.learning_rate),
                schedule: self.schedule.unwrap_or(defaults.schedule),
                augmentation: self.augmentation.unwrap_or(defaults.augmentation),
                seed: self.seed.unwrap_or(defaults.seed),
                ..defaults
            }
        }
    }

    pub fn main() -> ExitCode {
        let args = Args::parse();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handler = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::Relaxed) {
                eprintln!("\nstopped without saving");
                std::process::exit(130);
            }
        });
        if let Err(e) = handler {
            eprintln!("lenet-train: Ctrl-C will not save the run: {e}");
        }
        match train(&args, &stop) {
            Ok(Outcome::Finished { .. }) => ExitCode::SUCCESS,
            Ok(Outcome::Stopped { .. }) => ExitCode::from(130),
            Err(e) => {
                eprintln!("lenet-train: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn train(args: &Args, stop: &AtomicBool) -> Result<Outcome, NativeError> {
        let mnist = load_mnist(&args.data)?;
        let train = match args.limit {
            Some(n) => Arc::new(mnist.train.take(n)),
            None => mnist.train,
        };
        let devices = args.backend.devices(usize::from(args.devices))?;
        let (first, replicas) = devices.split_first().expect("at least one device");
        let trainer = match &args.resume {
            Some(path) => {
                if args.sets_the_run() {
                    eprintln!(
                        "lenet-train: a resumed run keeps its own settings; only --epochs changes it"
                    );
                }
                let checkpoint = read_checkpoint(path)?;
                Trainer::resume(first, train, &checkpoint, args.epochs)?
            }
            None => Trainer::new(first, train, args.config())?,
        };
        let out = args
            .out
            .clone()
            .or_else(|| args.resume.clone())
            .unwrap_or_else(|| PathBuf::from("lenet5-mnist.ckpt"));
        let mut run = NativeRun {
            trainer: trainer.data_parallel(replicas),
            test: mnist.test,
            out,
        };

        let saved_to = run.out.display().to_string();
        let start = run.trainer.position();
        let devices = format!("{} ×{}", args.backend.name(), args.devices);
        println!(
            "lenet-train: {} steps of {} on {devices}, from step {}",
            start.total_steps - start.step,
            start.total_steps,
            start.step,
        );
        let bar = ProgressBar::new(start.total_steps as u64).with_position(start.step as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  {eta} left")
                .expect("the template is valid"),
        );
        let began = Instant::now();
        let (mut first_images, mut images, mut loss) = (None, 0, String::new());
        let images_per_second = |images: usize, first: Option<usize>| {
            (images - first.unwrap_or(images)) as f64 / began.elapsed().as_secs_f64()
        };
        let outcome = run.run(stop, |event| match event {
            Event::Step(progress) => {
                images = progress.images_seen;
                first_images.get_or_insert(progress.images_seen);
                if let (Some(l), Some(a)) = (progress.loss, progress.accuracy) {
                    loss = format!("loss {l:.4}, accuracy {:.2}%, ", a * 100.0);
                }
                bar.set_position(progress.step as u64);
                bar.set_message(format!(
                    "{loss}{:.0} images/s",
                    images_per_second(images, first_images)
                ));
            }
            Event::Epoch { epoch, accuracy } => bar.suspend(|| {
                println!(
                    "epoch {epoch}: test accuracy {:.2}%, saved {saved_to}",
                    accuracy * 100.0
                )
            }),
        });
        bar.finish_and_clear();
        let seconds = began.elapsed().as_secs_f64();
        let rate = images_per_second(images, first_images);
        match outcome? {
            Outcome::Finished { accuracy } => {
                println!(
                    "done: {seconds:.1} s, {rate:.0} images/s on {devices}, test accuracy {:.2}%, saved {saved_to}",
                    accuracy * 100.0
                );
                Ok(Outcome::Finished { accuracy })
            }
            Outcome::Stopped { step } => {
                println!(
                    "stopped at step {step}, saved {saved_to}: `--resume {saved_to}` goes on from there"
                );
                Ok(Outcome::Stopped { step })
            }
        }
    }
}
