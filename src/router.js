import { createRouter, createWebHistory } from 'vue-router';

const SignInPage = () => import('./components/SignInPage.vue');
const DatasetsPage = () => import('./components/DatasetsPage.vue');
const AnnotatePage = () => import('./components/AnnotatePage.vue');
const DonePage = () => import('./components/DonePage.vue');
// The Review page is its own chunk: the guard below keeps annotators from ever loading it.
const ReviewPage = () => import('./components/review/ReviewPage.vue');
const ReviewImagePage = () => import('./components/review/ReviewImagePage.vue');
const StudyDashboardPage = () => import('./components/review/StudyDashboardPage.vue');
// A study's participant's pages: a chunk of their own, which annotators never load.
const StudyPage = () => import('./components/study/StudyPage.vue');

/** Roles that may open the Review page (the API refuses the others too). */
export const REVIEW_ROLES = ['researcher', 'admin'];

/** Return whether the user may open the Review page. */
export function canReview(user) {
  return !!user && REVIEW_ROLES.includes(user.role);
}

export function createAppRouter(store) {
  const router = createRouter({
    history: createWebHistory('/'),
    routes: [
      { path: '/signin', name: 'signin', component: SignInPage, meta: { public: true, title: 'Sign in' } },
      { path: '/', name: 'datasets', component: DatasetsPage, meta: { title: 'My datasets' } },
      { path: '/datasets/:datasetId/images/:imageId', name: 'annotate', component: AnnotatePage, props: true, meta: { title: 'Annotate' } },
      { path: '/datasets/:datasetId/start', name: 'start', component: AnnotatePage, props: true, meta: { title: 'Annotate' } },
      { path: '/datasets/:datasetId/done', name: 'done', component: DonePage, props: true, meta: { title: 'Done' } },
      { path: '/datasets/:datasetId/review', name: 'review', component: ReviewPage, props: true, meta: { title: 'Review', review: true } },
      {
        path: '/datasets/:datasetId/review/images/:imageId',
        name: 'review-image',
        component: ReviewImagePage,
        props: true,
        meta: { title: 'Review an image', review: true },
      },
      { path: '/studies/:studyId', name: 'study-dashboard', component: StudyDashboardPage, props: true, meta: { title: 'Study', review: true } },
      { path: '/s/:slug', name: 'study', component: StudyPage, props: true, meta: { public: true, study: true, title: 'Study' } },
      { path: '/:pathMatch(.*)*', redirect: '/' },
    ],
  });

  router.beforeEach(async (to) => {
    if (!store.state.auth.checked) await store.dispatch('auth/check');
    const user = store.state.auth.user;
    // A study's participant has nothing but their study: every other page leads back to it (a new
    // page load, so the app starts as a participant's, saving through the participation API).
    if (user && user.role === 'participant' && !to.meta.study) {
      window.location.assign(`/s/${encodeURIComponent(user.study)}/`);
      return false;
    }
    if (to.meta.study) return true;
    const signedIn = store.getters['auth/signedIn'];
    if (!to.meta.public && !signedIn) return { name: 'signin', query: to.fullPath !== '/' ? { next: to.fullPath } : {} };
    // ?reauth: the session expired while the app still knows the user (the save state links here).
    if (to.name === 'signin' && signedIn && !to.query.reauth) return { name: 'datasets' };
    // Checked before the page's chunk is fetched: an annotator never downloads the Review page.
    if (to.meta.review && !canReview(store.state.auth.user)) return { name: 'datasets', query: { denied: 'review' } };
    return true;
  });
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · EyeTagger` : 'EyeTagger';
  });
  return router;
}
