//! Event files written by `nets::tensorboard` read back exactly through TensorBoard's own
//! `EventAccumulator`, including the purge of steps after a resume marker.

mod common;

use std::process::Command;

use ember_nets::tensorboard::EventWriter;

#[test]
fn tensorboard_reads_back_every_scalar_exactly() {
    let Some(python) = common::python_with("tensorboard") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    {
        let mut w = EventWriter::create(dir.path()).unwrap();
        for step in 0..50u64 {
            let loss = 2.5f32 * (-(step as f32) / 10.0).exp() + 1e-7 * step as f32;
            let acc = step as f32 / 49.0;
            w.scalar("train/loss", step, loss).unwrap();
            w.scalar("test/accuracy", step * 100, acc).unwrap();
            expected.push((step, loss, acc));
        }
        w.scalar("big/step", 1 << 40, -3.25).unwrap();
        w.flush().unwrap();
    }
    let script = r#"
import sys, json, struct
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
# Values as their float32 bit patterns: the comparison is bit-exact, with no decimal round trip.
bits = lambda v: struct.unpack("<I", struct.pack("<f", v))[0]
out = {t: [[e.step, bits(e.value)] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
print(json.dumps(out))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let loss = v["train/loss"].as_array().unwrap();
    let acc = v["test/accuracy"].as_array().unwrap();
    assert_eq!(loss.len(), 50);
    assert_eq!(acc.len(), 50);
    for (i, (step, l, a)) in expected.iter().enumerate() {
        assert_eq!(loss[i][0].as_u64().unwrap(), *step);
        assert_eq!(
            loss[i][1].as_u64().unwrap(),
            l.to_bits() as u64,
            "loss at step {step}"
        );
        assert_eq!(acc[i][0].as_u64().unwrap(), step * 100);
        assert_eq!(acc[i][1].as_u64().unwrap(), a.to_bits() as u64);
    }
    assert_eq!(v["big/step"][0][0].as_u64().unwrap(), 1 << 40);
    assert_eq!(
        v["big/step"][0][1].as_u64().unwrap(),
        (-3.25f32).to_bits() as u64
    );
}

#[test]
fn a_resume_marker_makes_tensorboard_drop_the_orphaned_steps() {
    let Some(python) = common::python_with("tensorboard") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    {
        // The first process logs steps 0..10 and dies after a checkpoint at step 6.
        let mut w = EventWriter::create(dir.path()).unwrap();
        for s in 0..10 {
            w.scalar("x", s, s as f32).unwrap();
        }
        w.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a later file name (seconds)
    {
        // The resumed process restarts at step 6 and logs 6..12 with other values.
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.session_start(6).unwrap();
        for s in 6..12 {
            w.scalar("x", s, 100.0 + s as f32).unwrap();
        }
        w.flush().unwrap();
    }
    let script = r#"
import sys, json
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps([[e.step, e.value] for e in acc.Scalars("x")]))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<(u64, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    let want: Vec<(u64, f64)> = (0..6)
        .map(|s| (s, s as f64))
        .chain((6..12).map(|s| (s, 100.0 + s as f64)))
        .collect();
    assert_eq!(v, want);
}
