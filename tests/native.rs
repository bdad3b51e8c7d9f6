//! The native trainer as a person runs it (`lenet-train`, built by cargo for these tests):
//! data-parallel training saved after every epoch, a resumed run, Ctrl-C that saves the last
//! step, and bad input said plainly. The checkpoints are the page's (tests/e2e/page.test.mjs
//! resumes one natively and loads the result back in the page).
#![cfg(not(target_arch = "wasm32"))]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use lenet_web::native::read_checkpoint;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data");

/// An empty folder of this test's own.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lenet-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lenet_train(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lenet-train"));
    command.args(args);
    command
}

fn run(args: &[&str]) -> (Output, String, String) {
    let output = lenet_train(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn trains_data_parallel_saves_every_epoch_and_resumes_for_more_epochs() {
    let dir = folder("parallel");
    let out = dir.join("run.ckpt");
    let common = ["--data", DATA, "--limit", "1280", "--out", path(&out)];
    let (output, stdout, stderr) =
        run(&[&common[..], &["--devices", "2", "--epochs", "2"]].concat());
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("40 steps of 40 on cpu ×2, from step 0"),
        "{stdout}"
    );
    for epoch in ["epoch 1: test accuracy", "epoch 2: test accuracy"] {
        assert!(stdout.contains(epoch), "{stdout}");
    }
    let done = stdout
        .lines()
        .find(|l| l.starts_with("done: "))
        .expect(&stdout);
    let accuracy: f64 = done
        .split("test accuracy ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|a| a.parse().ok())
        .expect(done);
    assert!(accuracy > 70.0, "{done}");
    let saved = read_checkpoint(&out).unwrap();
    assert!(saved.has_optimizer());
    assert_eq!((saved.state.step, saved.state.is_finished()), (40, true));
    assert!(!dir.join("run.ckpt.partial").exists());

    let (output, stdout, stderr) =
        run(&[&common[..], &["--resume", path(&out), "--epochs", "3"]].concat());
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("20 steps of 60 on cpu ×1, from step 40"),
        "{stdout}"
    );
    assert!(stdout.contains("epoch 3: test accuracy"), "{stdout}");
    assert!(!stdout.contains("epoch 2:"), "{stdout}");
    assert_eq!(read_checkpoint(&out).unwrap().state.step, 60);
}

/// Starts `lenet-train args`, sends it Ctrl-C (SIGINT) two seconds after its first line, and
/// returns that line, the rest of its output and its exit code.
fn interrupted(args: &[&str]) -> (String, String, Option<i32>) {
    let mut child = lenet_train(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    (first, rest, status.code())
}

/// The step in "stopped at step N, saved ...".
fn stopped_at(output: &str) -> usize {
    output
        .strip_prefix("stopped at step ")
        .and_then(|r| r.split(',').next())
        .and_then(|s| s.parse().ok())
        .expect(output)
}

#[test]
fn ctrl_c_saves_the_last_step_and_the_run_resumes_from_it() {
    let dir = folder("interrupt");
    let out = dir.join("run.ckpt");
    let (first, rest, code) = interrupted(&["--data", DATA, "--out", path(&out)]);
    assert!(
        first.starts_with("lenet-train: 938 steps of 938"),
        "{first}"
    );
    assert_eq!(code, Some(130), "{rest}");
    let step = stopped_at(&rest);
    assert!(step > 0 && step < 938, "{rest}");
    assert_eq!(read_checkpoint(&out).unwrap().state.step, step);

    let (first, rest, code) = interrupted(&["--data", DATA, "--resume", path(&out)]);
    let from = format!("{} steps of 938 on cpu ×1, from step {step}", 938 - step);
    assert!(first.contains(&from), "{first}");
    assert_eq!(code, Some(130), "{rest}");
    assert!(stopped_at(&rest) > step, "{rest}");
}

#[test]
fn bad_input_is_said_plainly_and_saves_nothing() {
    let dir = folder("bad");
    let out = dir.join("run.ckpt");
    let damaged = dir.join("damaged.ckpt");
    std::fs::write(&damaged, b"LeNet5ck and then nothing a checkpoint holds").unwrap();
    let limited = dir.join("limited.ckpt");
    let (output, stdout, stderr) =
        run(&["--data", DATA, "--limit", "640", "--out", path(&limited)]);
    assert!(output.status.success(), "{stdout}{stderr}");
    let cases: [(&[&str], &str); 6] = [
        (&["--data", path(&dir)], "cannot read "),
        (
            &["--data", DATA, "--resume", path(&damaged)],
            "damaged.ckpt: ",
        ),
        (
            &["--data", DATA, "--resume", path(&limited)],
            "it was trained on 640 images, not the 60000 loaded",
        ),
        (
            &["--data", DATA, "--backend", "cuda"],
            "this build has no cuda backend: build it with `--features cuda`",
        ),
        (
            &["--data", DATA, "--epochs", "0"],
            "invalid training settings",
        ),
        (
            &[
                "--data",
                DATA,
                "--limit",
                "64",
                "--out",
                "/nonexistent/run.ckpt",
            ],
            "cannot save the run to /nonexistent/run.ckpt",
        ),
    ];
    for (args, message) in cases {
        let (output, stdout, stderr) = run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(!out.exists());
    let (output, _, stderr) = run(&["--devices", "0"]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
}
