//! `cargo run --release --example demo [image.png]`
//!
//! 1. The worked example `[[0,1,2],[3,4,5],[6,7,8]] ⋆ [[0,1],[2,3]]`.
//! 2. Edge detection with the kernel `[[1,-1]]` on a 6×8 image, and its transpose.
//! 3. Learning that kernel back from (X, Y) with a layer, squared loss and SGD.
//! 4. Edge detection, sharpen and Gaussian blur of an image, written as PNG files:
//!    a built-in procedural image, or the PNG given as the first argument.

use std::error::Error;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use xcorr::{correlate, filter, filters, Array, Conv, Mode, Op, PaddingMode, Problem};

fn print_array(name: &str, a: &Array<f32>) {
    let s = a.shape();
    let (rows, cols) = (s[0], s[1]);
    println!("{name} ({rows}×{cols}):");
    for r in 0..rows {
        let row: Vec<String> = a.data()[r * cols..(r + 1) * cols]
            .iter()
            .map(|v| format!("{:>4}", format!("{}", v + 0.0)))
            .collect();
        println!("  [{}]", row.join(""));
    }
}

fn worked_example() -> Result<(), Box<dyn Error>> {
    println!("== 1. The worked example ==");
    let x = Array::from_rows(&[[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]);
    let k = Array::from_rows(&[[0.0f32, 1.0], [2.0, 3.0]]);
    let y = correlate(&x, &k, Mode::Valid)?;
    print_array("X", &x);
    print_array("K", &k);
    print_array("X ⋆ K", &y);
    assert_eq!(y.data(), &[19.0, 25.0, 37.0, 43.0]);
    println!();
    Ok(())
}

/// X: 6×8 ones with columns 2..5 set to zero.
fn stripes() -> Array<f32> {
    Array::from_fn(
        &[6, 8],
        |i| if (2..6).contains(&(i % 8)) { 0.0 } else { 1.0 },
    )
    .expect("a fixed shape")
}

fn edges() -> Result<(Array<f32>, Array<f32>), Box<dyn Error>> {
    println!("== 2. Edge detection with K = [[1, -1]] ==");
    let x = stripes();
    let k = Array::from_rows(&[[1.0f32, -1.0]]);
    let y = correlate(&x, &k, Mode::Valid)?;
    print_array("X", &x);
    print_array(
        "Y = X ⋆ K (1 where white turns black, -1 where black turns white)",
        &y,
    );
    let yt = correlate(&x.transposed(), &k, Mode::Valid)?;
    print_array(
        "Xᵀ ⋆ K (the kernel only sees horizontal change: all zeros)",
        &yt,
    );
    assert!(yt.data().iter().all(|&v| v == 0.0));
    println!();
    Ok((x, y))
}

fn learn(x: &Array<f32>, y: &Array<f32>) -> Result<(), Box<dyn Error>> {
    println!("== 3. Learning the kernel back from (X, Y) ==");
    let p = Problem::builder().input([6, 8]).kernel([1, 2]).build()?;
    let mut conv = Conv::<f32>::random(p, false, 0x5eed);
    println!("initial kernel: {:?}", conv.weight());
    let lr = 3e-2f32;
    let target = [1.0f32, -1.0];
    for epoch in 1..=100 {
        let y_hat = conv.forward(x.data())?;
        // loss = Σ (ŷ - y)², so dloss/dŷ = 2 (ŷ - y)
        let diff: Vec<f32> = y_hat.iter().zip(y.data()).map(|(a, b)| a - b).collect();
        let loss: f32 = diff.iter().map(|d| d * d).sum();
        let grad: Vec<f32> = diff.iter().map(|d| 2.0 * d).collect();
        conv.backward(x.data(), &grad)?;
        conv.sgd_step(lr);
        if epoch % 2 == 0 {
            println!("epoch {epoch:>3}, loss {loss:.3}");
        }
        let w = conv.weight();
        if epoch % 2 == 0 && w.iter().zip(&target).all(|(a, b)| (a - b).abs() < 0.05) {
            break;
        }
    }
    let w = conv.weight();
    println!(
        "learned kernel: [{:.4}, {:.4}] (target [1, -1])",
        w[0], w[1]
    );
    assert!(w.iter().zip(&target).all(|(a, b)| (a - b).abs() < 0.05));
    println!();
    Ok(())
}

/// An image as planes of f32 in [0, 255], one per colour channel.
struct Image {
    width: usize,
    height: usize,
    planes: Vec<Array<f32>>,
}

/// A 320×240 grey test card: discs, squares, a ramp, stripes and a checkerboard, so
/// edges, sharpening and blur all have something to show.
fn test_card() -> Image {
    let (w, h) = (320usize, 240usize);
    let plane = Array::from_fn(&[h, w], |i| {
        let (x, y) = ((i % w) as f32, (i / w) as f32);
        let mut v = 40.0 + 60.0 * x / w as f32; // ramp background
        if ((x - 80.0).powi(2) + (y - 80.0).powi(2)).sqrt() < 50.0 {
            v = 230.0;
        }
        if (170.0..260.0).contains(&x) && (30.0..120.0).contains(&y) {
            v = 20.0;
        }
        if (190.0..240.0).contains(&x) && (50.0..100.0).contains(&y) {
            v = 200.0;
        }
        if y >= 150.0 && x < 150.0 && (x as usize / 6).is_multiple_of(2) {
            v = 250.0 - 0.5 * y;
        }
        if y >= 150.0
            && x >= 170.0
            && ((x as usize - 170) / 15 + (y as usize - 150) / 15).is_multiple_of(2)
        {
            v = 255.0;
        }
        v
    })
    .expect("a fixed shape");
    Image {
        width: w,
        height: h,
        planes: vec![plane],
    }
}

fn read_png(path: &Path) -> Result<Image, Box<dyn Error>> {
    let mut decoder = png::Decoder::new(BufReader::new(File::open(path)?));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader.next_frame(&mut buf)?;
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("indexed PNG after EXPAND".into()),
    };
    let (w, h) = (info.width as usize, info.height as usize);
    // Filter colour channels; alpha is dropped.
    let colour = if channels >= 3 { 3 } else { 1 };
    let planes = (0..colour)
        .map(|c| Array::from_fn(&[h, w], |i| buf[i * channels + c] as f32))
        .collect::<Result<_, _>>()?;
    Ok(Image {
        width: w,
        height: h,
        planes,
    })
}

fn write_png(path: &Path, img: &Image) -> Result<(), Box<dyn Error>> {
    let mut enc = png::Encoder::new(
        BufWriter::new(File::create(path)?),
        img.width as u32,
        img.height as u32,
    );
    enc.set_color(if img.planes.len() == 3 {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    let n = img.width * img.height;
    let mut bytes = Vec::with_capacity(n * img.planes.len());
    for i in 0..n {
        for p in &img.planes {
            bytes.push(p.data()[i].round().clamp(0.0, 255.0) as u8);
        }
    }
    writer.write_image_data(&bytes)?;
    Ok(())
}

fn apply(
    img: &Image,
    kernel: &Array<f32>,
    post: impl Fn(f32) -> f32,
) -> Result<Image, Box<dyn Error>> {
    let planes = img
        .planes
        .iter()
        .map(|p| {
            // Same size, mirrored borders: no dark frame around the result.
            let mut out = filter(p, kernel, Mode::Same, PaddingMode::Reflect, Op::Correlation)?;
            out.data_mut().iter_mut().for_each(|v| *v = post(*v));
            Ok(out)
        })
        .collect::<Result<_, xcorr::XcorrError>>()?;
    Ok(Image {
        width: img.width,
        height: img.height,
        planes,
    })
}

fn images(arg: Option<String>) -> Result<(), Box<dyn Error>> {
    println!("== 4. Classic kernels on an image ==");
    let (img, stem) = match &arg {
        Some(path) => (read_png(Path::new(path))?, "input"),
        None => (test_card(), "test_card"),
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/demo");
    std::fs::create_dir_all(&dir)?;
    if arg.is_none() {
        write_png(&dir.join("test_card.png"), &img)?;
    }
    let blur = filters::gaussian::<f32>(9, 2.5)?;
    let outputs = [
        // Edge responses are signed; show their magnitude, amplified.
        ("edges", filters::edge_detection(), 2.0f32, true),
        ("sharpen", filters::sharpen(), 1.0, false),
        ("gaussian_blur", blur, 1.0, false),
    ];
    for (name, kernel, gain, magnitude) in outputs {
        let out = apply(
            &img,
            &kernel,
            |v| if magnitude { v.abs() * gain } else { v },
        )?;
        let path = dir.join(format!("{stem}_{name}.png"));
        write_png(&path, &out)?;
        println!("wrote {}", path.display());
    }
    println!(
        "{}×{} image, {} channel(s); PNG files are in {}",
        img.width,
        img.height,
        img.planes.len(),
        dir.display()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    worked_example()?;
    let (x, y) = edges()?;
    learn(&x, &y)?;
    images(std::env::args().nth(1))
}
