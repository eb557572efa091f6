//! The `Application` global: municipality, procedures, the question on screen, the review.

use crate::runner::SessionHandle;
use crate::session::{Field, Input, Intent, QuestionKind, View};
use crate::ui::generated::ReviewLine;
use crate::ui::generated::{self as ui, AppWindow, Application, ChoiceItem, ProcedureItem};
use crate::ui::rows;
use slint::ComponentHandle;

pub fn wire(app: &AppWindow, session: SessionHandle) {
    let g = app.global::<Application>();
    g.set_procedures(rows::model());
    g.set_choices(rows::model());
    g.set_review_lines(rows::model());
    let send = move |i: Intent| session.send(Input::Intent(i));
    let s = send.clone();
    g.on_choose_procedure(move |i| s(Intent::ChooseProcedure(i.max(0) as usize)));
    let s = send.clone();
    g.on_choose(move |i| s(Intent::Choose(i.max(0) as usize)));
    let s = send.clone();
    g.on_adjust(move |field, delta| s(Intent::Adjust(self::field(field), delta)));
    g.on_submit(move || send(Intent::Submit));
}

fn field(f: ui::Field) -> Field {
    match f {
        ui::Field::Year => Field::Year,
        ui::Field::Month => Field::Month,
        ui::Field::Day => Field::Day,
        ui::Field::Number => Field::Number,
    }
}

pub fn apply(app: &AppWindow, v: &View) {
    let g = app.global::<Application>();
    g.set_municipality_name(v.municipality_name.as_str().into());
    g.set_opening_note(v.opening_note.as_str().into());
    g.set_procedure_title(v.procedure_title.as_str().into());
    let procedures: Vec<_> = v
        .procedures
        .iter()
        .map(|(title, summary)| ProcedureItem {
            title: title.as_str().into(),
            summary: summary.as_str().into(),
        })
        .collect();
    rows::sync(&g.get_procedures(), &procedures);
    let review: Vec<_> = v
        .review
        .iter()
        .map(|(label, value)| ReviewLine {
            label: label.as_str().into(),
            value: value.as_str().into(),
        })
        .collect();
    rows::sync(&g.get_review_lines(), &review);
    // Off the question screen the last question stays as it was (nothing shows it).
    let Some(q) = &v.question else { return };
    let choices: Vec<_> = q
        .choices
        .iter()
        .map(|(label, selected)| ChoiceItem {
            label: label.as_str().into(),
            selected: *selected,
        })
        .collect();
    rows::sync(&g.get_choices(), &choices);
    let date = q
        .date
        .map_or((0, 0, 0), |d| (d.year(), d.month() as i32, d.day() as i32));
    g.set_question(ui::Question {
        title: q.title.as_str().into(),
        help: q.help.as_str().into(),
        kind: match q.kind {
            QuestionKind::Choice => ui::QuestionKind::Choice,
            QuestionKind::Number => ui::QuestionKind::Number,
            QuestionKind::Date => ui::QuestionKind::Date,
        },
        number_value: q.number as i32,
        number_unit: q.unit.as_str().into(),
        date_year: date.0,
        date_month: date.1,
        date_day: date.2,
        date_text: q.date_text.as_str().into(),
        ready: q.ready,
        index: q.index as i32,
        count: q.count as i32,
    });
}
