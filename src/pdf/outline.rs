//! Dashed outlines a preview draws around field boxes and seal slots.

/// A rectangle in points, origin at the page's bottom-left corner.
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// RGB, 0 to 1.
    pub color: [f32; 3],
}

/// Content operators stroking `rects`, in their own graphics state.
pub fn operators(rects: &[Rect]) -> Vec<u8> {
    let mut out = String::from("q 0.8 w [4 2] 0 d\n");
    for r in rects {
        let [red, green, blue] = r.color;
        out.push_str(&format!(
            "{red:.3} {green:.3} {blue:.3} RG {:.2} {:.2} {:.2} {:.2} re S\n",
            r.x, r.y, r.width, r.height
        ));
    }
    out.push_str("Q\n");
    out.into_bytes()
}
