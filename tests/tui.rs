//! The inspector without a terminal: the state machine (key -> effect -> state)
//! and snapshots of the drawn screen (ratatui's TestBackend + insta).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use pidscope::act::{Action, Consent};
use pidscope::fixture::{self, EntryBuilder, FileBuilder, ProcessBuilder};
use pidscope::probe::locks::LockKind;
use pidscope::report::Report;
use pidscope::tui::app::{App, Confirm, ConfirmKind, Effect, Mode, Msg, Outcome};
use pidscope::tui::ui::view;
use pidscope::verdict::{Status, Warning};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

const NOW: u64 = 1_795_671_805;

fn at(secs_ago: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW - secs_ago)
}

/// A root-owned pidfile last written `age` seconds before `NOW`.
fn file(age: u64) -> FileBuilder {
    fixture::file().mtime(at(age)).size(6).device(1, age)
}

/// A daemon run by `user` (root or www-data) since `started` seconds before `NOW`.
fn process(name: &str, user: &str, started: u64) -> ProcessBuilder {
    let uid = if user == "root" { 0 } else { 33 };
    fixture::process(name)
        .user(uid, user)
        .started(at(started))
        .cmdline(&[&format!("/usr/sbin/{name}"), "-f"])
        .cpu(1.5)
        .start_ticks(started)
}

/// A pidfile written an hour before `NOW`.
fn entry(path: &str, status: Status, pid: Option<i32>, reason: &str) -> EntryBuilder {
    let entry = fixture::entry(path, status).reason(reason).file(file(3600));
    match pid {
        Some(pid) => entry.pid(pid),
        None => entry,
    }
}

/// One pidfile of every status, as a scan of /run would report them.
fn every_status() -> Report {
    let nginx = entry(
        "/run/nginx.pid",
        Status::Alive,
        Some(812),
        "PID 812 is nginx, running for 3d0h",
    )
    .process(process("nginx", "root", 3 * 86400))
    .file(file(3 * 86400 - 1))
    .lock(fixture::lock(LockKind::Flock, &[812]));
    let php = entry(
        "/run/php/php8.2-fpm.pid",
        Status::Alive,
        Some(901),
        "PID 901 is php-fpm8.2, running for 2h0m",
    )
    .process(process("php-fpm8.2", "www-data", 7200))
    .warnings(&[Warning::NotSignalable]);
    let stale = entry(
        "/run/old-daemon.pid",
        Status::Stale,
        Some(4242),
        "No process has PID 4242",
    );
    let reused = entry(
        "/run/cron.pid",
        Status::Reused,
        Some(77),
        "PID 77 is now sleep, which started 2h0m after the file was last written",
    )
    .process(process("sleep", "root", 60))
    .file(file(7260));
    let zombie = entry(
        "/run/worker.pid",
        Status::Zombie,
        Some(5150),
        "PID 5150 (worker) has exited but is not reaped by its parent 5100",
    )
    .process(process("worker", "root", 600).zombie());
    let invalid = entry(
        "/run/starting.pid",
        Status::Invalid,
        None,
        "The file is empty",
    )
    .first_line(Some(""));
    let unreadable = entry(
        "/run/control.pid",
        Status::Unreadable,
        None,
        "Cannot read the file: not a regular file: FIFO",
    )
    .first_line(None);
    Report {
        roots: vec![PathBuf::from("/run")],
        entries: [nginx, php, stale, reused, zombie, invalid, unreadable]
            .map(EntryBuilder::build)
            .to_vec(),
        errors: Vec::new(),
        started_at: at(0),
        duration: Duration::from_millis(3),
        pid_namespace: pidscope::probe::namespace::PidNamespace::Initial,
    }
}

fn app_with(report: Report, read_only: bool, color: bool) -> App {
    let mut app = App::new(
        vec![PathBuf::from("/run")],
        vec!["*.pid".into()],
        read_only,
        color,
    );
    app.update(Msg::Resize(100, 30));
    app.update(Msg::Scanned(report));
    app.now = at(0);
    app
}

fn app() -> App {
    app_with(every_status(), false, true)
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    keys.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

fn selected(app: &App) -> String {
    app.selected_entry()
        .map(|e| e.path.display().to_string())
        .unwrap_or_default()
}

fn select(app: &mut App, path: &str) {
    app.update(key(KeyCode::Home));
    for _ in 0..app.rows.len() {
        if selected(app) == path {
            return;
        }
        app.update(key(KeyCode::Down));
    }
    panic!("{path} not shown");
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|frame| view(app, frame)).expect("draw");
    format!("{}", terminal.backend())
}

// ---------------------------------------------------------------- state machine

#[test]
fn problems_sort_first_and_selection_follows_the_pidfile_across_refreshes() {
    let mut app = app();
    let order: Vec<Status> = app.visible().map(|e| e.status).collect();
    assert_eq!(order[0], Status::Unreadable);
    assert_eq!(*order.last().unwrap(), Status::Alive);
    select(&mut app, "/run/old-daemon.pid");
    // A refresh where a new problem sorts above it: the selection stays on the same file.
    let mut report = every_status();
    report
        .entries
        .push(entry("/run/aaa.pid", Status::Invalid, None, "The file is empty").build());
    app.update(Msg::Scanned(report));
    assert_eq!(selected(&app), "/run/old-daemon.pid");
}

#[test]
fn movement_keys() {
    let mut app = app();
    app.update(key(KeyCode::End));
    assert_eq!(app.selected, app.rows.len() - 1);
    press(&mut app, "g");
    assert_eq!(app.selected, 0);
    press(&mut app, "jj");
    assert_eq!(app.selected, 2);
    app.update(key(KeyCode::Up));
    assert_eq!(app.selected, 1);
    press(&mut app, "G");
    assert_eq!(app.selected, 6);
    app.update(key(KeyCode::PageUp));
    assert_eq!(app.selected, 0);
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 5,
        row: 5,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.selected, 1);
    // Click on the fourth data row (header line 2, column titles at row 2, data from row 3).
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 20,
        row: 6,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.selected, 3);
    // Key releases and repeats are not presses.
    let mut release = KeyEvent::new(KeyCode::Down, KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    app.update(Msg::Key(release));
    assert_eq!(app.selected, 3);
}

#[test]
fn filters_and_sorting() {
    let mut app = app();
    press(&mut app, "/nginx");
    assert_eq!(app.mode, Mode::FilterInput);
    app.update(key(KeyCode::Enter));
    assert_eq!(app.visible().count(), 1);
    press(&mut app, "/");
    app.update(key(KeyCode::Esc));
    assert_eq!(app.visible().count(), 7, "Esc clears the filter");
    press(&mut app, "/www");
    app.update(key(KeyCode::Enter));
    assert_eq!(
        selected(&app),
        "/run/php/php8.2-fpm.pid",
        "filter matches the user"
    );
    press(&mut app, "/");
    app.update(key(KeyCode::Esc));

    app.update(key(KeyCode::Tab));
    assert!(
        app.visible()
            .all(|e| e.status != Status::Alive || !e.warnings.is_empty()),
        "problems only"
    );
    assert_eq!(app.visible().count(), 6);
    app.update(key(KeyCode::Tab));
    assert!(app.visible().all(|e| e.status == Status::Alive));
    app.update(key(KeyCode::Tab));
    assert!(app.visible().all(|e| e.status == Status::Stale));
    for _ in 0..5 {
        app.update(key(KeyCode::Tab));
    }
    assert_eq!(app.visible().count(), 7, "back to all");

    press(&mut app, "ss"); // status -> pid -> path
    let paths: Vec<String> = app
        .visible()
        .map(|e| e.path.display().to_string())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    press(&mut app, "S");
    assert_eq!(
        app.visible().next().unwrap().path,
        PathBuf::from("/run/worker.pid")
    );
}

#[test]
fn delete_a_stale_pidfile_needs_one_confirmation_and_enter_starts_on_cancel() {
    let mut app = app();
    select(&mut app, "/run/old-daemon.pid");
    press(&mut app, "d");
    assert!(matches!(
        app.mode,
        Mode::Confirm(Confirm {
            kind: ConfirmKind::Delete { .. },
            ..
        })
    ));
    // Enter on the initial focus (Cancel) deletes nothing.
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    press(&mut app, "d");
    app.update(key(KeyCode::Right));
    let effects = app.update(key(KeyCode::Enter));
    match &effects[..] {
        [Effect::Act(jobs)] => {
            assert_eq!(jobs.len(), 1);
            assert_eq!(jobs[0].action(), Action::Delete);
            assert_eq!(jobs[0].target().path, PathBuf::from("/run/old-daemon.pid"));
            assert_eq!(jobs[0].consent(), Consent::Once);
        }
        other => panic!("{other:?}"),
    }
    press(&mut app, "d");
    assert_eq!(press(&mut app, "y").len(), 1);
    press(&mut app, "d");
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    press(&mut app, "d");
    assert!(press(&mut app, "n").is_empty());
}

#[test]
fn a_live_pidfile_needs_a_second_explicit_confirmation() {
    let mut app = app();
    select(&mut app, "/run/nginx.pid");
    press(&mut app, "d");
    assert!(
        press(&mut app, "y").is_empty(),
        "d, y alone never deletes a live pidfile"
    );
    assert!(matches!(
        app.mode,
        Mode::Confirm(Confirm {
            kind: ConfirmKind::DeleteInUse { .. },
            ..
        })
    ));
    assert!(
        app.update(key(KeyCode::Enter)).is_empty(),
        "Enter starts on Cancel"
    );
    press(&mut app, "d");
    press(&mut app, "y");
    match &press(&mut app, "y")[..] {
        [Effect::Act(jobs)] => {
            assert_eq!(jobs[0].action(), Action::Delete);
            assert_eq!(jobs[0].consent(), Consent::Twice);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tagged_batch_delete_splits_plain_and_in_use() {
    let mut app = app();
    select(&mut app, "/run/old-daemon.pid");
    press(&mut app, " ");
    select(&mut app, "/run/nginx.pid");
    press(&mut app, " ");
    assert_eq!(app.tagged.len(), 2);
    press(&mut app, "d");
    match &app.mode {
        Mode::Confirm(Confirm {
            kind: ConfirmKind::Delete { targets },
            ..
        }) => assert_eq!(targets.len(), 2),
        other => panic!("{other:?}"),
    }
    press(&mut app, "y");
    // "n" (like Esc and Enter on Cancel) deletes nothing at all.
    assert!(press(&mut app, "n").is_empty());
    assert_eq!(app.mode, Mode::Normal);
    press(&mut app, "dy");
    // "o" keeps the live one and deletes only the stale one.
    match &press(&mut app, "o")[..] {
        [Effect::Act(jobs)] => {
            assert_eq!(jobs.len(), 1);
            assert_eq!(jobs[0].action(), Action::Delete);
            assert_eq!(jobs[0].target().path, PathBuf::from("/run/old-daemon.pid"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn signal_picker_confirm_and_refusals() {
    let mut app = app();
    select(&mut app, "/run/nginx.pid");
    press(&mut app, "k");
    match &app.mode {
        Mode::SignalPicker { index, .. } => assert_eq!(*index, 0, "TERM first"),
        other => panic!("{other:?}"),
    }
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Up));
    app.update(key(KeyCode::Enter));
    assert!(matches!(
        app.mode,
        Mode::Confirm(Confirm {
            kind: ConfirmKind::Signal {
                signal: Signal::SIGTERM,
                ..
            },
            ..
        })
    ));
    match &press(&mut app, "y")[..] {
        [Effect::Act(jobs)]
            if jobs[0].action() == Action::Signal(Signal::SIGTERM)
                && jobs[0].consent() == Consent::Once =>
        {
            assert_eq!(jobs[0].target().pid, Some(812))
        }
        other => panic!("{other:?}"),
    }
    // KILL is last.
    press(&mut app, "k");
    for _ in 0..20 {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Enter));
    assert!(matches!(
        app.mode,
        Mode::Confirm(Confirm {
            kind: ConfirmKind::Signal {
                signal: Signal::SIGKILL,
                ..
            },
            ..
        })
    ));
    app.update(key(KeyCode::Esc));

    for path in [
        "/run/old-daemon.pid",
        "/run/cron.pid",
        "/run/worker.pid",
        "/run/starting.pid",
    ] {
        select(&mut app, path);
        assert!(press(&mut app, "k").is_empty());
        assert_eq!(app.mode, Mode::Normal, "{path} cannot be signalled");
        assert!(
            app.message.as_ref().unwrap().1.contains("cannot signal"),
            "{:?}",
            app.message
        );
    }
}

#[test]
fn an_untrusted_pidfile_needs_a_second_confirmation_before_signalling() {
    let mut report = every_status();
    report.entries[0].warnings.insert(Warning::UntrustedFile);
    let mut app = app_with(report, false, true);
    select(&mut app, "/run/nginx.pid");
    press(&mut app, "k");
    app.update(key(KeyCode::Enter));
    assert!(press(&mut app, "y").is_empty(), "one y is not enough");
    assert!(matches!(
        app.mode,
        Mode::Confirm(Confirm {
            kind: ConfirmKind::SignalUntrusted { .. },
            ..
        })
    ));
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains("Untrusted pidfiles") && screen.contains("/run/nginx.pid"),
        "{screen}"
    );
    match &press(&mut app, "y")[..] {
        [Effect::Act(jobs)]
            if jobs[0].action() == Action::Signal(Signal::SIGTERM)
                && jobs[0].consent() == Consent::Twice => {}
        other => panic!("{other:?}"),
    }
    press(&mut app, "k");
    app.update(key(KeyCode::Enter));
    press(&mut app, "y");
    assert!(
        app.update(key(KeyCode::Enter)).is_empty(),
        "Enter starts on Cancel"
    );
}

#[test]
fn pid_1_and_kernel_threads_are_never_offered() {
    let mut report = every_status();
    report.entries[0].pid = Some(1);
    let kthread = entry(
        "/run/kthread.pid",
        Status::Alive,
        Some(2),
        "PID 2 is kthreadd",
    )
    .process(process("kthreadd", "root", 100).kernel_thread());
    report.entries.push(kthread.build());
    let mut app = app_with(report, false, true);
    select(&mut app, "/run/nginx.pid");
    press(&mut app, "k");
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_ref().unwrap().1.contains("PID 1"));
    select(&mut app, "/run/kthread.pid");
    press(&mut app, "k");
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_ref().unwrap().1.contains("kernel thread"));
}

#[test]
fn read_only_blocks_every_action() {
    let mut app = app_with(every_status(), true, true);
    select(&mut app, "/run/old-daemon.pid");
    assert!(press(&mut app, "d").is_empty());
    assert!(press(&mut app, "k").is_empty());
    assert!(app.update(key(KeyCode::Delete)).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_ref().unwrap().1.contains("read-only"));
}

#[test]
fn rows_are_pinned_while_a_dialog_is_open() {
    let mut app = app();
    select(&mut app, "/run/old-daemon.pid");
    press(&mut app, "d");
    let mut report = every_status();
    report.entries.retain(|e| e.status != Status::Stale);
    app.update(Msg::Scanned(report));
    assert_eq!(app.visible().count(), 7, "the dialog's rows stay");
    app.update(key(KeyCode::Esc));
    assert_eq!(
        app.visible().count(),
        6,
        "the pending scan applies on close"
    );
}

#[test]
fn results_reach_the_footer_and_trigger_a_rescan() {
    let mut app = app();
    let effects = app.update(Msg::ActionsDone(vec![
        Outcome {
            ok: true,
            text: "deleted /run/a.pid".into(),
        },
        Outcome {
            ok: false,
            text: "/run/b.pid: changed since scan (the file was rewritten); nothing done".into(),
        },
    ]));
    assert_eq!(effects, vec![Effect::Rescan]);
    let (_, text) = app.message.clone().unwrap();
    assert!(
        text.contains("1 done, 1 refused or failed") && text.contains("changed since scan"),
        "{text}"
    );
}

#[test]
fn quitting() {
    for msg in [
        key(KeyCode::Char('q')),
        key(KeyCode::Esc),
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Msg::Terminate,
    ] {
        let mut app = app();
        assert_eq!(app.update(msg), vec![Effect::Quit]);
        assert!(app.quit);
    }
    // Esc in a dialog cancels the dialog, not the program.
    let mut app = app();
    press(&mut app, "d");
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(!app.quit);
    // Ctrl-C quits from anywhere.
    press(&mut app, "d");
    assert_eq!(
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        ))),
        vec![Effect::Quit]
    );
}

#[test]
fn help_lists_every_binding_of_the_key_map() {
    let mut app = app();
    press(&mut app, "?");
    assert_eq!(app.mode, Mode::Help);
    let screen = render(&app, 100, 30);
    for binding in pidscope::tui::keys::KEYMAP {
        assert!(
            screen.contains(binding.help),
            "help lacks {:?}",
            binding.help
        );
    }
    press(&mut app, "x");
    assert_eq!(app.mode, Mode::Normal, "any key closes the help");
}

// ---------------------------------------------------------------- snapshots

#[test]
fn snapshot_main_screen_every_status() {
    insta::assert_snapshot!(render(&app(), 100, 30));
}

#[test]
fn snapshot_main_screen_80x24() {
    let mut app = app();
    app.update(Msg::Resize(80, 24));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn snapshot_too_small() {
    let mut app = app();
    app.update(Msg::Resize(79, 23));
    insta::assert_snapshot!(render(&app, 79, 23));
}

#[test]
fn snapshot_help_overlay() {
    let mut app = app();
    press(&mut app, "?");
    insta::assert_snapshot!(render(&app, 100, 30));
}

#[test]
fn snapshot_delete_dialog() {
    let mut app = app();
    select(&mut app, "/run/old-daemon.pid");
    press(&mut app, "d");
    insta::assert_snapshot!(render(&app, 100, 30));
}

#[test]
fn snapshot_live_pidfile_second_confirmation() {
    let mut app = app();
    select(&mut app, "/run/nginx.pid");
    press(&mut app, "dy");
    insta::assert_snapshot!(render(&app, 100, 30));
}

#[test]
fn snapshot_signal_picker() {
    let mut app = app();
    select(&mut app, "/run/nginx.pid");
    press(&mut app, "k");
    insta::assert_snapshot!(render(&app, 100, 30));
}

#[test]
fn snapshot_empty_state() {
    let mut report = every_status();
    report.entries.clear();
    insta::assert_snapshot!(render(&app_with(report, true, true), 100, 30));
}

#[test]
fn snapshot_no_color() {
    let app = app_with(every_status(), false, false);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("terminal");
    terminal.draw(|frame| view(&app, frame)).expect("draw");
    // Without colour, no cell may carry one: problems are bold, the selection reversed.
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
    let styled: Vec<String> = buffer
        .content()
        .chunks(100)
        .map(|row| {
            row.iter()
                .map(|c| {
                    if c.modifier.is_empty() {
                        '.'
                    } else if c.modifier.contains(ratatui::style::Modifier::REVERSED) {
                        'R'
                    } else {
                        'B'
                    }
                })
                .collect()
        })
        .collect();
    insta::assert_snapshot!(format!("{}\n{}", render(&app, 100, 30), styled.join("\n")));
}
