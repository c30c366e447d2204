/**
 * The 3D view: each face's dense mesh in three.js, textured with the frame it came from (each
 * vertex's UV is its own image position, so the texture is the frame itself: no texture is
 * computed per frame), orbitable with the mouse. Frame: the exported meshes' (x right, y up,
 * z towards the viewer, pixels). The keyboard turns and zooms it too (key()).
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import type { FaceMessage } from './protocol.js';

/** A key press's turn (10°) and zoom (a fifth nearer, or as much farther). */
const KEY_TURN = Math.PI / 18;
const KEY_ZOOM = 0.8;
/** How near and how far the view zooms, in multiples of the framed distance (the camera's planes are at /100 and ×100). */
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 20;

export class FaceViewer {
  readonly canvas: HTMLCanvasElement;
  private readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private readonly camera = new THREE.PerspectiveCamera(30, 1, 1, 100000);
  private readonly controls: OrbitControls;
  private texture: THREE.CanvasTexture;
  /** The size the texture was made at: three allocates a texture's storage once, at its first upload. */
  private textureSize = '';
  private readonly material: THREE.MeshBasicMaterial;
  private readonly meshes: THREE.Mesh[] = [];
  private fitted = false;
  /** WebGL is drawn by the CPU (no GPU: SwiftShader, llvmpipe…), so drawing competes with the network. */
  readonly software: boolean;

  constructor(
    private readonly container: HTMLElement,
    private readonly triangles: Int32Array,
    private readonly vertexCount: number,
    textureSource: HTMLCanvasElement,
  ) {
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    this.canvas = this.renderer.domElement;
    this.software = isSoftwareRenderer(this.renderer.getContext());
    container.appendChild(this.canvas);
    this.scene.background = new THREE.Color(0x1b1d22);
    this.texture = new THREE.CanvasTexture(textureSource);
    this.texture.colorSpace = THREE.SRGBColorSpace;
    this.material = new THREE.MeshBasicMaterial({ map: this.texture, side: THREE.DoubleSide });
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.enableDamping = false;
    this.controls.addEventListener('change', () => this.render());
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  /** Shows the faces of a frame (image pixels) over an image of the given size. */
  update(faces: readonly FaceMessage[], width: number, height: number): void {
    while (this.meshes.length < faces.length) this.meshes.push(this.createMesh());
    this.meshes.forEach((m, i) => (m.visible = i < faces.length));
    faces.forEach((face, i) => {
      const geometry = this.meshes[i].geometry;
      const pos = geometry.getAttribute('position') as THREE.BufferAttribute;
      const uv = geometry.getAttribute('uv') as THREE.BufferAttribute;
      const p = pos.array as Float32Array;
      const t = uv.array as Float32Array;
      const v = face.vertices;
      for (let k = 0, j = 0; k < v.length; k += 3, j += 2) {
        p[k] = v[k];
        p[k + 1] = -v[k + 1];
        p[k + 2] = v[k + 2];
        t[j] = (v[k] + 0.5) / width;
        t[j + 1] = 1 - (v[k + 1] + 0.5) / height;
      }
      pos.needsUpdate = true;
      uv.needsUpdate = true;
      // Both bounds: fit() frames the box (Box3.expandByObject reads the cached boundingBox, which
      // three computes once: every later source was framed where the first one's faces were).
      geometry.computeBoundingSphere();
      geometry.computeBoundingBox();
    });
    // A source of another size needs a new texture: three keeps the first upload's storage and
    // copies later frames into it, so a larger frame failed to upload and a smaller one filled a corner.
    const size = `${width}×${height}`;
    if (this.textureSize && size !== this.textureSize) {
      const next = new THREE.CanvasTexture(this.texture.image as HTMLCanvasElement);
      next.colorSpace = THREE.SRGBColorSpace;
      this.texture.dispose();
      this.texture = next;
      this.material.map = next;
      this.material.needsUpdate = true;
    }
    this.textureSize = size;
    this.texture.needsUpdate = true;
    if (faces.length && !this.fitted) this.fit();
    this.render();
  }

  /** Points the camera at the visible faces, from the front. */
  fit(): void {
    const box = new THREE.Box3();
    for (const m of this.meshes) if (m.visible) box.expandByObject(m);
    if (box.isEmpty()) return;
    const centre = box.getCenter(new THREE.Vector3());
    const radius = box.getSize(new THREE.Vector3()).length() / 2;
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2));
    this.camera.position.set(centre.x, centre.y, centre.z + distance);
    this.camera.near = distance / 100;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    // Zoom (wheel, pinch, keys) stays where the faces are drawn: nearer than the near plane's
    // reach or past the far plane they were cut away or vanished (no limit before).
    this.controls.minDistance = distance * MIN_ZOOM;
    this.controls.maxDistance = distance * MAX_ZOOM;
    this.controls.target.copy(centre);
    this.controls.update();
    this.fitted = true;
    this.render();
  }

  /**
   * What a key does to the view, as the mouse would: the arrows turn it (as dragging that way does),
   * + and − zoom in and out (= and _ too: the same keys unshifted or shifted), 0 and Home frame the
   * faces from the front again (Reset view). Returns whether the key was one of these.
   */
  key(key: string): boolean {
    switch (key) {
      case 'ArrowLeft': this.controls.rotateLeft(-KEY_TURN); break;
      case 'ArrowRight': this.controls.rotateLeft(KEY_TURN); break;
      case 'ArrowUp': this.controls.rotateUp(-KEY_TURN); break;
      case 'ArrowDown': this.controls.rotateUp(KEY_TURN); break;
      case '+': case '=': this.controls.dollyIn(KEY_ZOOM); break;
      case '-': case '_': this.controls.dollyOut(KEY_ZOOM); break;
      case '0': case 'Home': this.fit(); break;
      default: return false;
    }
    return true;
  }

  /**
   * Where the view looks from and at, and where the visible faces are (their vertices' box centre,
   * computed afresh): for the page's automated checks of the framing.
   */
  framing(): { camera: number[]; target: number[]; facesCentre: number[] } | null {
    const box = new THREE.Box3();
    for (const m of this.meshes) if (m.visible) box.expandByObject(m, true);
    if (box.isEmpty()) return null;
    return { camera: this.camera.position.toArray(), target: this.controls.target.toArray(), facesCentre: box.getCenter(new THREE.Vector3()).toArray() };
  }

  /** Shows no face (a source or model that is gone). */
  clear(): void {
    for (const m of this.meshes) m.visible = false;
    this.render();
  }

  /** Forget the camera placement (the next faces are framed again). */
  refit(): void {
    this.fitted = false;
  }

  render(): void {
    this.renderer.render(this.scene, this.camera);
  }

  private createMesh(): THREE.Mesh {
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(this.vertexCount * 3), 3).setUsage(THREE.DynamicDrawUsage));
    geometry.setAttribute('uv', new THREE.BufferAttribute(new Float32Array(this.vertexCount * 2), 2).setUsage(THREE.DynamicDrawUsage));
    geometry.setIndex(new THREE.BufferAttribute(new Uint32Array(this.triangles), 1));
    const mesh = new THREE.Mesh(geometry, this.material);
    mesh.frustumCulled = false;
    this.scene.add(mesh);
    return mesh;
  }

  private resize(): void {
    const w = Math.max(1, this.container.clientWidth);
    const h = Math.max(1, this.container.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }
}

/** Whether a WebGL context is rendered on the CPU. */
function isSoftwareRenderer(gl: WebGLRenderingContext | WebGL2RenderingContext): boolean {
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}
