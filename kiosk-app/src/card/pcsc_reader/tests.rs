use super::*;

#[test]
fn card_swapped_between_two_looks_is_reported_removed_and_probed() {
    let reader = CString::new("Virtual PCD 00 00").unwrap();
    let a = Seen::Card(reader.clone(), 4);
    // Taken out and another card put in between two looks: the count moved on by two.
    let b = Seen::Card(reader.clone(), 6);
    assert_eq!(
        transition(&a, &b),
        Change {
            removed: true,
            report: true
        },
        "a swap is a removal, then a new card to probe"
    );
    assert_eq!(
        transition(&a, &a),
        Change {
            removed: false,
            report: false
        }
    );
    assert_eq!(
        transition(&a, &Seen::Empty),
        Change {
            removed: true,
            report: true
        }
    );
    assert_eq!(
        transition(&Seen::Empty, &b),
        Change {
            removed: false,
            report: true
        }
    );
    let other_reader = Seen::Card(CString::new("Virtual PCD 00 01").unwrap(), 4);
    assert!(transition(&a, &other_reader).removed);
}
