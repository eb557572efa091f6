//! The application being filled in: where it goes, which procedure, and the answers so far.
//! Carried from stage to stage, so that a stage without an application cannot reach one.

use super::view::{QuestionKind as Kind, QuestionView};
use super::{Field, MunicipalityInfo, World};
use crate::card::basic4::Basic4;
use crate::catalogue::{Procedure, Question, QuestionKind};
use crate::domain::Lang;

/// The resident and the participating municipality their address leads to.
#[derive(Debug)]
pub struct Route {
    pub identity: Basic4,
    /// Index into [`World::municipalities`].
    pub municipality: usize,
    /// When the municipality is closed now: its next opening.
    pub opens_at: Option<time::OffsetDateTime>,
}

impl Route {
    pub fn municipality<'w>(&self, world: &'w World) -> &'w MunicipalityInfo {
        &world.municipalities[self.municipality]
    }
}

/// A route with a procedure chosen and its questions being answered.
#[derive(Debug)]
pub struct Application {
    pub route: Route,
    /// Index into the municipality's catalogue.
    pub procedure: usize,
    pub answers: Vec<Answer>,
    /// The question on screen (0-based).
    pub question: usize,
}

#[derive(Debug, Clone)]
pub enum Answer {
    Choice(Option<usize>),
    Number(i64),
    Date(time::Date),
}

impl Application {
    /// A fresh application for procedure `i`, every answer at its default; the route back
    /// when the catalogue has no such procedure.
    pub fn start(route: Route, i: usize, world: &World, today: time::Date) -> Result<Self, Route> {
        let Some(p) = route.municipality(world).catalogue.procedures.get(i) else {
            return Err(route);
        };
        let answers = p
            .questions
            .iter()
            .map(|q| match &q.kind {
                QuestionKind::Choice { .. } => Answer::Choice(None),
                QuestionKind::Number { min, default, .. } => {
                    Answer::Number(default.unwrap_or(*min))
                }
                QuestionKind::Date { .. } => Answer::Date(today),
            })
            .collect();
        Ok(Application {
            route,
            procedure: i,
            answers,
            question: 0,
        })
    }

    pub fn procedure<'w>(&self, world: &'w World) -> &'w Procedure {
        &self.route.municipality(world).catalogue.procedures[self.procedure]
    }

    /// The current question may be left: a choice has been made (numbers and dates always
    /// hold a value).
    pub fn answer_ready(&self) -> bool {
        !matches!(
            self.answers.get(self.question),
            Some(Answer::Choice(None)) | None
        )
    }

    pub fn choose(&mut self, i: usize) {
        if let Some(Answer::Choice(sel)) = self.answers.get_mut(self.question) {
            *sel = Some(i);
        }
    }

    /// Moves a number or a date field by `delta`, within the catalogue's limits.
    pub fn adjust(&mut self, world: &World, field: Field, delta: i32, today: time::Date) {
        let Some(q) = self.procedure(world).questions.get(self.question).cloned() else {
            return;
        };
        match (self.answers.get_mut(self.question), &q.kind) {
            (Some(Answer::Number(n)), QuestionKind::Number { min, max, .. })
                if field == Field::Number =>
            {
                *n = (*n + delta as i64).clamp(*min, *max);
            }
            (Some(Answer::Date(d)), QuestionKind::Date { min_days, max_days }) => {
                let lo = today + time::Duration::days(*min_days);
                let hi = today + time::Duration::days(*max_days);
                let moved = match field {
                    Field::Day => Some(*d + time::Duration::days(delta as i64)),
                    Field::Month => shift_months(*d, delta),
                    Field::Year => shift_months(*d, delta * 12),
                    Field::Number => None,
                };
                if let Some(m) = moved {
                    *d = m.clamp(lo, hi);
                }
            }
            _ => {}
        }
    }

    /// (question id, machine value) pairs, as the municipality receives them.
    pub fn machine_answers(&self, world: &World) -> Vec<(String, String)> {
        self.procedure(world)
            .questions
            .iter()
            .zip(&self.answers)
            .map(|(q, a)| (q.id.clone(), machine_value(q, a)))
            .collect()
    }

    /// (question, answer) pairs as the resident reads them.
    pub fn review(&self, world: &World, lang: Lang) -> Vec<(String, String)> {
        self.procedure(world)
            .questions
            .iter()
            .zip(&self.answers)
            .map(|(q, a)| (q.title.get(lang.code()).to_owned(), human_value(q, a, lang)))
            .collect()
    }

    /// The current question as the UI shows it.
    pub fn question_view(&self, world: &World, lang: Lang) -> Option<QuestionView> {
        let p = self.procedure(world);
        let q = p.questions.get(self.question)?;
        let a = self.answers.get(self.question)?;
        Some(question_view(
            q,
            a,
            lang,
            self.question + 1,
            p.questions.len(),
        ))
    }
}

fn question_view(q: &Question, a: &Answer, lang: Lang, index: usize, count: usize) -> QuestionView {
    let l = lang.code();
    let mut v = QuestionView {
        title: q.title.get(l).to_owned(),
        help: q.help.get(l).to_owned(),
        kind: Kind::Choice,
        choices: vec![],
        number: 0,
        unit: String::new(),
        date: None,
        date_text: String::new(),
        ready: true,
        index,
        count,
    };
    match (&q.kind, a) {
        (QuestionKind::Choice { choices }, Answer::Choice(sel)) => {
            v.kind = Kind::Choice;
            v.choices = choices
                .iter()
                .enumerate()
                .map(|(i, c)| (c.label.get(l).to_owned(), *sel == Some(i)))
                .collect();
            v.ready = sel.is_some();
        }
        (QuestionKind::Number { unit, .. }, Answer::Number(n)) => {
            v.kind = Kind::Number;
            v.number = *n;
            v.unit = unit.get(l).to_owned();
        }
        (QuestionKind::Date { .. }, Answer::Date(d)) => {
            v.kind = Kind::Date;
            v.date = Some(*d);
            v.date_text = super::format::format_date(*d, lang);
        }
        _ => {}
    }
    v
}

fn machine_value(q: &Question, a: &Answer) -> String {
    match (&q.kind, a) {
        (QuestionKind::Choice { choices }, Answer::Choice(Some(i))) => {
            choices.get(*i).map(|c| c.value.clone()).unwrap_or_default()
        }
        (_, Answer::Number(n)) => n.to_string(),
        (_, Answer::Date(d)) => format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day()),
        _ => String::new(),
    }
}

fn human_value(q: &Question, a: &Answer, lang: Lang) -> String {
    match (&q.kind, a) {
        (QuestionKind::Choice { choices }, Answer::Choice(Some(i))) => choices
            .get(*i)
            .map(|c| c.label.get(lang.code()).to_owned())
            .unwrap_or_default(),
        (QuestionKind::Number { unit, .. }, Answer::Number(n)) => match lang {
            Lang::JA => format!("{n}{}", unit.get("ja")),
            _ => format!("{n} {}", unit.get(lang.code())),
        },
        (_, Answer::Date(d)) => super::format::format_date(*d, lang),
        _ => String::new(),
    }
}

/// `d` moved by whole months, the day clamped to the target month's length.
fn shift_months(d: time::Date, months: i32) -> Option<time::Date> {
    let total = d.year() * 12 + (d.month() as i32 - 1) + months;
    let (y, m) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u8);
    let month = time::Month::try_from(m).ok()?;
    let day = d.day().min(time::util::days_in_month(month, y));
    time::Date::from_calendar_date(y, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::shift_months;
    use time::macros::date;

    #[test]
    fn months_shift_across_years_and_clamp_the_day() {
        assert_eq!(
            shift_months(date!(2026 - 01 - 31), 1),
            Some(date!(2026 - 02 - 28))
        );
        assert_eq!(
            shift_months(date!(2024 - 03 - 31), -1),
            Some(date!(2024 - 02 - 29))
        );
        assert_eq!(
            shift_months(date!(2026 - 12 - 15), 1),
            Some(date!(2027 - 01 - 15))
        );
        assert_eq!(
            shift_months(date!(2026 - 01 - 15), -13),
            Some(date!(2024 - 12 - 15))
        );
    }
}
