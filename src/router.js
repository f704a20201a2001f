import { createRouter, createWebHistory } from 'vue-router';

const SignInPage = () => import('./components/SignInPage.vue');
const DatasetsPage = () => import('./components/DatasetsPage.vue');
const AnnotatePage = () => import('./components/AnnotatePage.vue');
const DonePage = () => import('./components/DonePage.vue');

export function createAppRouter(store) {
  const router = createRouter({
    history: createWebHistory('/'),
    routes: [
      { path: '/signin', name: 'signin', component: SignInPage, meta: { public: true, title: 'Sign in' } },
      { path: '/', name: 'datasets', component: DatasetsPage, meta: { title: 'My datasets' } },
      { path: '/datasets/:datasetId/images/:imageId', name: 'annotate', component: AnnotatePage, props: true, meta: { title: 'Annotate' } },
      { path: '/datasets/:datasetId/start', name: 'start', component: AnnotatePage, props: true, meta: { title: 'Annotate' } },
      { path: '/datasets/:datasetId/done', name: 'done', component: DonePage, props: true, meta: { title: 'Done' } },
      { path: '/:pathMatch(.*)*', redirect: '/' },
    ],
  });

  router.beforeEach(async (to) => {
    if (!store.state.auth.checked) await store.dispatch('auth/check');
    const signedIn = store.getters['auth/signedIn'];
    if (!to.meta.public && !signedIn) return { name: 'signin', query: to.fullPath !== '/' ? { next: to.fullPath } : {} };
    // ?reauth: the session expired while the app still knows the user (the save state links here).
    if (to.name === 'signin' && signedIn && !to.query.reauth) return { name: 'datasets' };
    return true;
  });
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · EyeTagger` : 'EyeTagger';
  });
  return router;
}
