//! Long-lived list models: a list on screen keeps its `VecModel` for the kiosk's life and only
//! the rows that changed are replaced (Slint's repeater drops and rebuilds every item when a
//! new model object is set).

use slint::{Model, ModelRc, VecModel};
use std::rc::Rc;

/// A new, empty model for a list property.
pub fn model<T: Clone + 'static>() -> ModelRc<T> {
    ModelRc::from(Rc::new(VecModel::<T>::default()))
}

/// Makes `model` hold `rows`, touching only the rows that differ. A model that is not a
/// `VecModel` (never set by [`model`]) is left alone.
pub fn sync<T: Clone + PartialEq + 'static>(model: &ModelRc<T>, rows: &[T]) {
    let Some(vm) = model.as_any().downcast_ref::<VecModel<T>>() else {
        return;
    };
    for (i, row) in rows.iter().enumerate() {
        if i >= vm.row_count() {
            vm.push(row.clone());
        } else if vm.row_data(i).as_ref() != Some(row) {
            vm.set_row_data(i, row.clone());
        }
    }
    while vm.row_count() > rows.len() {
        vm.remove(vm.row_count() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Slint's own change listener (what a repeater attaches), not re-exported by `slint`.
    use i_slint_core::model::{ModelChangeListener, ModelChangeListenerContainer};
    use std::cell::RefCell;

    /// Counts what the model told its views.
    #[derive(Default)]
    struct Seen(RefCell<Vec<String>>);

    impl ModelChangeListener for Seen {
        fn row_changed(self: std::pin::Pin<&Self>, row: usize) {
            self.0.borrow_mut().push(format!("changed {row}"));
        }
        fn row_added(self: std::pin::Pin<&Self>, index: usize, count: usize) {
            self.0.borrow_mut().push(format!("added {index}+{count}"));
        }
        fn row_removed(self: std::pin::Pin<&Self>, index: usize, count: usize) {
            self.0.borrow_mut().push(format!("removed {index}+{count}"));
        }
        fn reset(self: std::pin::Pin<&Self>) {
            self.0.borrow_mut().push("reset".into());
        }
    }

    #[test]
    fn only_changed_rows_are_touched_and_the_model_is_never_reset() {
        let m = model::<i32>();
        let seen = Box::pin(ModelChangeListenerContainer::new(Seen::default()));
        m.model_tracker().attach_peer(seen.as_ref().model_peer());
        sync(&m, &[1, 2, 3]);
        sync(&m, &[1, 2, 3]);
        sync(&m, &[1, 5, 3, 4]);
        sync(&m, &[1]);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(
            *seen.as_ref().get().0.borrow(),
            vec![
                "added 0+1",
                "added 1+1",
                "added 2+1", // the first rows
                "changed 1",
                "added 3+1", // one row changed, one added; row 0 and 2 untouched
                "removed 3+1",
                "removed 2+1",
                "removed 1+1",
            ]
        );
    }
}
