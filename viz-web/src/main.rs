//! `etcdlab-viz`: the visualizer's page (see the library, [`etcdlab_viz`], for its parts).

fn main() {
    yew::Renderer::<etcdlab_viz::app::App>::new().render();
}
